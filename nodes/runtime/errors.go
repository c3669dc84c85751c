package runtime

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
)

var (
	// ErrNotFound: the container or image does not exist. It is
	// errdefs.ErrNotFound, so containerd's own not-found errors match too.
	ErrNotFound = errdefs.ErrNotFound
	// ErrAlreadyExists: a container with that ID exists (a retried create).
	// It is errdefs.ErrAlreadyExists.
	ErrAlreadyExists = errdefs.ErrAlreadyExists
	// ErrImageNotPresent: CreateContainer was given an image that is not in
	// the node's image store; pull or import it first. It wraps ErrNotFound.
	ErrImageNotPresent = fmt.Errorf("image not present: %w", errdefs.ErrNotFound)
	// ErrImagePull wraps every failure of PullImage, whatever the cause
	// (unknown image, registry unreachable, unauthorized); the cause is
	// wrapped too. The agent reports it as the ErrImagePull waiting reason.
	ErrImagePull = errors.New("image pull failed")
	// ErrInvalidSpec: the pod or container spec cannot be run as written
	// (unknown volume, bad quantity, unsafe subPath). It is
	// errdefs.ErrInvalidArgument.
	ErrInvalidSpec = errdefs.ErrInvalidArgument
	// ErrPodInUse: RemovePod was called while containers of the pod exist.
	ErrPodInUse = errors.New("pod still has containers")
)
