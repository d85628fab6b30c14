module raftlab

go 1.26

require github.com/anishathalye/porcupine v1.3.1

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
