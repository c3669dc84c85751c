package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Container labels. Values of the time labels are RFC 3339 with nanoseconds.
const (
	labelPrefix       = "wharf.io/"
	LabelManaged      = "wharf.io/managed"
	LabelPodUID       = "wharf.io/pod-uid"
	LabelPodName      = "wharf.io/pod-name"
	LabelPodNamespace = "wharf.io/pod-namespace"
	LabelContainer    = "wharf.io/container-name"
	LabelRestartCount = "wharf.io/restart-count"
	LabelImageID      = "wharf.io/image-id"
	LabelLogPath      = "wharf.io/log-path"
	LabelCgroupPath   = "wharf.io/cgroup-path"
	LabelStartedAt    = "wharf.io/started-at"
	LabelFinishedAt   = "wharf.io/finished-at"
	LabelExitCode     = "wharf.io/exit-code"
	LabelReason       = "wharf.io/reason"
)

// ContainerID is the containerd ID of one run of a pod's container: 32 hex
// digits derived from the pod UID, the container name and the restart count.
func ContainerID(podUID, name string, restartCount int32) string {
	h := sha256.Sum256([]byte(podUID + "\x00" + name + "\x00" + strconv.Itoa(int(restartCount))))
	return hex.EncodeToString(h[:16])
}
