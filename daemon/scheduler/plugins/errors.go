package plugins

import "errors"

var errNoArgs = errors.New("takes no args")
