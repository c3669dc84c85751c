package plugins_test

import "connectrpc.com/connect"

func connectRequest[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
