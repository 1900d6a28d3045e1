// Package deployments holds no code: it is the home of the Dockerfile, compose.yaml, the
// Caddyfile, the Kubernetes manifests and the systemd unit, and of the test that checks
// them (deployments_test.go), so that `go test ./...` catches a broken deployment file.
package deployments
