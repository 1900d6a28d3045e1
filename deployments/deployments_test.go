package deployments

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kezekbot/kezekbot/internal/testenv"
)

// obj is one decoded YAML document.
type obj = map[string]any

// at walks a decoded document by keys (string) and list indexes (int); nil when absent.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := at(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := at(v, path...).([]any)
	return l
}

func num(v any, path ...any) (int, bool) {
	switch n := at(v, path...).(type) {
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// decodeAll decodes every document of a (multi-document) YAML file; empty ones are skipped.
func decodeAll(t *testing.T, path string) []obj {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []obj
	for i := 0; ; i++ {
		var d obj
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestEveryYAMLFileParses(t *testing.T) {
	files := yamlFiles(t, ".")
	if len(files) < 10 {
		t.Fatalf("found only %d YAML files: %v", len(files), files)
	}
	for _, f := range files {
		if len(decodeAll(t, f)) == 0 {
			t.Errorf("%s: no documents", f)
		}
	}
}

// cluster is every Kubernetes object under k8s/, indexed by kind and name.
type cluster struct {
	objs   []obj
	byKind map[string][]obj
}

func (c *cluster) one(t *testing.T, kind string) obj {
	t.Helper()
	l := c.byKind[kind]
	if len(l) != 1 {
		t.Fatalf("want exactly one %s, have %d", kind, len(l))
	}
	return l[0]
}

func (c *cluster) named(kind, name string) obj {
	for _, o := range c.byKind[kind] {
		if str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{byKind: map[string][]obj{}}
	for _, f := range yamlFiles(t, "k8s") {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, o := range decodeAll(t, f) {
			c.objs = append(c.objs, o)
			c.byKind[str(o, "kind")] = append(c.byKind[str(o, "kind")], o)
		}
	}
	return c
}

// selects reports whether every key=value of sel is among labels.
func selects(sel, labels any) bool {
	s, _ := sel.(obj)
	l, _ := labels.(obj)
	if len(s) == 0 {
		return false
	}
	for k, v := range s {
		if l[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesObjects(t *testing.T) {
	c := loadCluster(t)
	for _, o := range c.objs {
		name := str(o, "metadata", "name")
		if str(o, "apiVersion") == "" || str(o, "kind") == "" || name == "" {
			t.Errorf("object without apiVersion, kind or metadata.name: %v", o["metadata"])
		}
		if str(o, "kind") != "Namespace" && str(o, "metadata", "namespace") != "kezekbot" {
			t.Errorf("%s/%s: namespace %q, want kezekbot", str(o, "kind"), name, str(o, "metadata", "namespace"))
		}
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Ingress", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if len(c.byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	k := decodeAll(t, "k8s/kustomization.yaml")[0]
	var listed []string
	for _, r := range list(k, "resources") {
		s, _ := r.(string)
		if _, err := os.Stat(filepath.Join("k8s", s)); err != nil {
			t.Errorf("kustomization lists %s: %v", s, err)
		}
		listed = append(listed, s)
	}
	for _, f := range yamlFiles(t, "k8s") {
		rel, _ := filepath.Rel("k8s", f)
		if rel != "kustomization.yaml" && !slices.Contains(listed, rel) {
			t.Errorf("%s is not in kustomization.yaml resources", rel)
		}
	}
}

func TestDeployment(t *testing.T) {
	c := loadCluster(t)
	d := c.one(t, "Deployment")
	if str(d, "apiVersion") != "apps/v1" {
		t.Errorf("Deployment apiVersion %q", str(d, "apiVersion"))
	}
	if n, _ := num(d, "spec", "replicas"); n != 2 {
		t.Errorf("replicas = %d, want 2", n)
	}
	if !selects(at(d, "spec", "selector", "matchLabels"), at(d, "spec", "template", "metadata", "labels")) {
		t.Error("Deployment selector does not match its pod template labels")
	}
	if n, ok := num(d, "spec", "strategy", "rollingUpdate", "maxUnavailable"); !ok || n != 0 {
		t.Errorf("maxUnavailable = %v, want 0 so a rollout never drops below the current count",
			at(d, "spec", "strategy", "rollingUpdate", "maxUnavailable"))
	}
	pod := at(d, "spec", "template", "spec")
	if len(list(pod, "topologySpreadConstraints")) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	if at(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if str(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	containers := list(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("want one container, have %d", len(containers))
	}
	ctr := containers[0]
	if !slices.Contains(append(list(ctr, "command"), list(ctr, "args")...), any("serve")) {
		t.Errorf("container does not run serve: command %v args %v", at(ctr, "command"), at(ctr, "args"))
	}
	portNames := map[string]bool{}
	for _, p := range list(ctr, "ports") {
		portNames[str(p, "name")] = true
		if n, _ := num(p, "containerPort"); n != 8080 {
			t.Errorf("containerPort %d, want 8080", n)
		}
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
		if got := str(ctr, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path = %q, want %q", probe, got, path)
		}
		if p := str(ctr, probe, "httpGet", "port"); p != "" && !portNames[p] {
			t.Errorf("%s port %q is not a container port name", probe, p)
		}
	}
	sc := at(ctr, "securityContext")
	if at(sc, "allowPrivilegeEscalation") != false || at(sc, "readOnlyRootFilesystem") != true {
		t.Error("container must set allowPrivilegeEscalation: false and readOnlyRootFilesystem: true")
	}
	if at(sc, "runAsNonRoot") != true && at(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("runAsNonRoot not set")
	}
	if !slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
		t.Error("capabilities.drop lacks ALL")
	}
	for _, r := range []string{"cpu", "memory"} {
		if str(ctr, "resources", "requests", r) == "" {
			t.Errorf("resources.requests.%s missing", r)
		}
	}
	if str(ctr, "resources", "limits", "memory") == "" {
		t.Error("resources.limits.memory missing")
	}

	// Rolling restarts lose no update only if the pod outlives preStop + the drain.
	grace, _ := num(pod, "terminationGracePeriodSeconds")
	sleep, ok := num(ctr, "lifecycle", "preStop", "sleep", "seconds")
	if !ok || sleep < 5 {
		t.Errorf("preStop sleep = %d, want at least 5s so endpoints are removed before SIGTERM", sleep)
	}
	cm := c.named("ConfigMap", "kezekbot")
	drain, err := time.ParseDuration(str(cm, "data", "KEZEKBOT_SHUTDOWN_GRACE"))
	if err != nil {
		t.Fatalf("ConfigMap KEZEKBOT_SHUTDOWN_GRACE: %v", err)
	}
	if time.Duration(grace)*time.Second <= time.Duration(sleep)*time.Second+drain {
		t.Errorf("terminationGracePeriodSeconds %d <= preStop %ds + shutdown grace %s", grace, sleep, drain)
	}

	// Everything the pod refers to exists.
	for _, ef := range list(ctr, "envFrom") {
		if n := str(ef, "configMapRef", "name"); n != "" && c.named("ConfigMap", n) == nil {
			t.Errorf("envFrom ConfigMap %q does not exist", n)
		}
		if n := str(ef, "secretRef", "name"); n != "" && c.named("Secret", n) == nil {
			t.Errorf("envFrom Secret %q does not exist", n)
		}
	}
	for _, v := range list(pod, "volumes") {
		if n := str(v, "configMap", "name"); n != "" && c.named("ConfigMap", n) == nil {
			t.Errorf("volume ConfigMap %q does not exist", n)
		}
	}
	if str(cm, "data", "KEZEKBOT_MODE") != "webhook" {
		t.Errorf("KEZEKBOT_MODE = %q, want webhook", str(cm, "data", "KEZEKBOT_MODE"))
	}
}

func TestServiceIngressHPAPDB(t *testing.T) {
	c := loadCluster(t)
	d := c.one(t, "Deployment")
	dname := str(d, "metadata", "name")
	podLabels := at(d, "spec", "template", "metadata", "labels")
	ctrPorts := map[string]bool{}
	for _, p := range list(d, "spec", "template", "spec", "containers", 0, "ports") {
		ctrPorts[str(p, "name")] = true
		n, _ := num(p, "containerPort")
		ctrPorts[strconv.Itoa(n)] = true
	}

	svc := c.one(t, "Service")
	if !selects(at(svc, "spec", "selector"), podLabels) {
		t.Errorf("Service selector %v does not match Deployment pod labels %v", at(svc, "spec", "selector"), podLabels)
	}
	svcPorts := map[string]bool{}
	for _, p := range list(svc, "spec", "ports") {
		svcPorts[str(p, "name")] = true
		n, _ := num(p, "port")
		svcPorts[strconv.Itoa(n)] = true
		tp := fmt.Sprint(at(p, "targetPort"))
		if !ctrPorts[tp] {
			t.Errorf("Service targetPort %s is not a container port", tp)
		}
	}

	ing := c.one(t, "Ingress")
	if str(ing, "apiVersion") != "networking.k8s.io/v1" {
		t.Errorf("Ingress apiVersion %q", str(ing, "apiVersion"))
	}
	if len(list(ing, "spec", "tls")) == 0 || str(ing, "spec", "tls", 0, "secretName") == "" {
		t.Error("Ingress has no TLS section with a secretName")
	}
	webhookPath := str(c.named("ConfigMap", "kezekbot"), "data", "KEZEKBOT_WEBHOOK_PATH")
	var paths []string
	for _, r := range list(ing, "spec", "rules") {
		for _, p := range list(r, "http", "paths") {
			paths = append(paths, str(p, "path"))
			be := at(p, "backend", "service")
			if str(be, "name") != str(svc, "metadata", "name") {
				t.Errorf("Ingress path %s goes to service %q, want %q", str(p, "path"), str(be, "name"), str(svc, "metadata", "name"))
			}
			port := str(be, "port", "name")
			if port == "" {
				n, _ := num(be, "port", "number")
				port = strconv.Itoa(n)
			}
			if !svcPorts[port] {
				t.Errorf("Ingress backend port %q is not a Service port", port)
			}
		}
	}
	if !slices.Contains(paths, webhookPath) || !slices.Contains(paths, "/s/") {
		t.Errorf("Ingress paths %v, want the webhook path %q and /s/", paths, webhookPath)
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "/admin") || p == "/metrics" || p == "/" {
			t.Errorf("Ingress exposes %s publicly", p)
		}
	}

	hpa := c.one(t, "HorizontalPodAutoscaler")
	if str(hpa, "apiVersion") != "autoscaling/v2" {
		t.Errorf("HPA apiVersion %q, want autoscaling/v2", str(hpa, "apiVersion"))
	}
	if str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || str(hpa, "spec", "scaleTargetRef", "name") != dname {
		t.Errorf("HPA targets %v, want Deployment %s", at(hpa, "spec", "scaleTargetRef"), dname)
	}
	if n, _ := num(hpa, "spec", "minReplicas"); n < 2 {
		t.Errorf("HPA minReplicas %d, want >= 2", n)
	}
	if str(hpa, "spec", "metrics", 0, "resource", "name") != "cpu" {
		t.Errorf("HPA metric is not CPU: %v", at(hpa, "spec", "metrics"))
	}

	pdb := c.one(t, "PodDisruptionBudget")
	if str(pdb, "apiVersion") != "policy/v1" {
		t.Errorf("PDB apiVersion %q", str(pdb, "apiVersion"))
	}
	if n, ok := num(pdb, "spec", "minAvailable"); !ok || n != 1 {
		t.Errorf("PDB minAvailable %v, want 1", at(pdb, "spec", "minAvailable"))
	}
	if !selects(at(pdb, "spec", "selector", "matchLabels"), podLabels) {
		t.Error("PDB selector does not match the Deployment's pods")
	}

	for _, np := range c.byKind["NetworkPolicy"] {
		if !selects(at(np, "spec", "podSelector", "matchLabels"), podLabels) {
			t.Error("NetworkPolicy does not select the bot pods")
		}
	}
}

func TestMigrationJob(t *testing.T) {
	c := loadCluster(t)
	job := c.one(t, "Job")
	if str(job, "apiVersion") != "batch/v1" {
		t.Errorf("Job apiVersion %q", str(job, "apiVersion"))
	}
	pod := at(job, "spec", "template", "spec")
	ctr := at(pod, "containers", 0)
	if !slices.Contains(append(list(ctr, "command"), list(ctr, "args")...), any("migrate")) {
		t.Errorf("Job does not run migrate: command %v args %v", at(ctr, "command"), at(ctr, "args"))
	}
	if rp := str(pod, "restartPolicy"); rp != "Never" && rp != "OnFailure" {
		t.Errorf("Job restartPolicy %q", rp)
	}
	if at(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("Job pod runAsNonRoot is not true")
	}
	if at(ctr, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("Job container allows privilege escalation")
	}
	d := c.one(t, "Deployment")
	if str(ctr, "image") != str(d, "spec", "template", "spec", "containers", 0, "image") {
		t.Error("the Job must run the same image as the Deployment")
	}
}

// TestSecretsArePlaceholders guards against a real token or key being committed.
func TestSecretsArePlaceholders(t *testing.T) {
	c := loadCluster(t)
	token := regexp.MustCompile(`[0-9]{6,}:[A-Za-z0-9_-]{30,}`)
	for _, s := range c.byKind["Secret"] {
		if data, _ := at(s, "data").(obj); len(data) > 0 {
			t.Errorf("Secret %s has base64 data; keep placeholders in stringData", str(s, "metadata", "name"))
		}
		stringData, _ := at(s, "stringData").(obj)
		for k, v := range stringData {
			if vs, _ := v.(string); vs != "" && !strings.Contains(vs, "REPLACE_ME") {
				t.Errorf("Secret key %s holds a value that is not a REPLACE_ME placeholder", k)
			}
		}
	}
	for _, f := range []string{"kezekbot.env.example", "systemd/kezekbot.env.example", ".env.example"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range token.FindAll(b, -1) {
			if !bytes.Contains(m, []byte("REPLACE")) {
				t.Errorf("%s contains something that looks like a real bot token", f)
			}
		}
	}
}

func TestCompose(t *testing.T) {
	doc := decodeAll(t, "compose.yaml")[0]
	services, _ := at(doc, "services").(obj)
	if services == nil {
		t.Fatal("compose.yaml has no services")
	}
	// yaml.v3 resolves the "<<: *kezekbot" merge keys, so the bot services carry the shared
	// environment here as compose sees it.
	var bots []string
	replicas := 0
	for name, s := range services {
		cmd := list(s, "command")
		if slices.Contains(cmd, any("serve")) {
			bots = append(bots, name)
			n, ok := num(s, "deploy", "replicas")
			if !ok {
				n = 1
			}
			replicas += n
			if str(s, "environment", "KEZEKBOT_MODE") != "webhook" {
				t.Errorf("%s: KEZEKBOT_MODE = %q, want webhook", name, str(s, "environment", "KEZEKBOT_MODE"))
			}
			if len(list(s, "healthcheck", "test")) == 0 || !strings.Contains(fmt.Sprint(list(s, "healthcheck", "test")), "/healthz") {
				t.Errorf("%s: no healthcheck on /healthz", name)
			}
			if cond := str(s, "depends_on", "migrate", "condition"); cond != "service_completed_successfully" {
				t.Errorf("%s: depends_on migrate condition %q, want service_completed_successfully", name, cond)
			}
			for _, dep := range []string{"postgres", "redis"} {
				if str(s, "depends_on", dep, "condition") != "service_healthy" {
					t.Errorf("%s: does not wait for %s to be healthy", name, dep)
				}
			}
			if len(list(s, "env_file")) == 0 {
				t.Errorf("%s: secrets must come from an env_file", name)
			}
		}
	}
	if replicas < 2 {
		t.Errorf("bot replicas = %d (services %v), want 2", replicas, bots)
	}

	m := services["migrate"]
	if m == nil || !slices.Contains(list(m, "command"), any("migrate")) {
		t.Fatalf("no migrate service running migrate: %v", m)
	}
	if str(m, "depends_on", "postgres", "condition") != "service_healthy" {
		t.Error("migrate does not wait for PostgreSQL")
	}

	// Only the reverse proxy publishes ports.
	proxy := ""
	for name, s := range services {
		if at(s, "ports") == nil {
			continue
		}
		if !strings.HasPrefix(str(s, "image"), "caddy") {
			t.Errorf("service %s publishes ports %v; only the proxy may", name, at(s, "ports"))
			continue
		}
		proxy = name
	}
	if proxy == "" {
		t.Fatal("no reverse proxy with published ports")
	}
	ports := fmt.Sprint(at(services[proxy], "ports"))
	if !strings.Contains(ports, "443:443") {
		t.Errorf("proxy ports %s lack 443", ports)
	}

	for _, name := range []string{proxy, "postgres", "redis"} {
		if len(list(services[name], "healthcheck", "test")) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	if img := str(services["postgres"], "image"); !strings.HasPrefix(img, "postgres:16") && !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image %q, want 15 or 16", img)
	}
	if len(list(services["postgres"], "volumes")) == 0 {
		t.Error("postgres has no volume")
	}
	if img := str(services["redis"], "image"); !strings.HasPrefix(img, "redis:7") {
		t.Errorf("redis image %q, want 7", img)
	}
	if at(doc, "networks", "data", "internal") != true {
		t.Error(`the "data" network (PostgreSQL, Redis) should be internal`)
	}
}

func TestCaddyfile(t *testing.T) {
	b, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"reverse_proxy", "handle /s/*", "{$KEZEKBOT_WEBHOOK_PATH:/telegram/webhook}", "name bot", "port 8080", "respond 404"} {
		if !strings.Contains(s, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	// The access log must not carry secrets (issue 17, finding 1): the token part of
	// signing-page paths is replaced and every header carrying a secret is dropped.
	for _, want := range []string{
		"format filter",
		`request>uri regexp "^/s/[^/?#]+" "/s/REDACTED"`,
		"request>headers>X-Telegram-Bot-Api-Secret-Token delete",
		"request>headers>X-Csrf-Token delete",
		"request>headers>X-Kezek-Signature delete",
		"request>headers>Authorization delete",
		"request>headers>Cookie delete",
		"resp_headers>Set-Cookie delete",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Caddyfile's access log lacks %q", want)
		}
	}
	if strings.Contains(s, "format json") {
		t.Error("Caddyfile logs with plain `format json`: every request header would be logged")
	}
}

// TestCaddyAccessLogRedacts runs Caddy with the Caddyfile (admin endpoint off, plain HTTP on
// a loopback port, no bot behind it) and reads the access log of requests carrying every
// secret: none of them may appear.
func TestCaddyAccessLogRedacts(t *testing.T) {
	caddy := testenv.Tool(t, "caddy", "caddy")
	b, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	// The test's own global options: no admin endpoint, no certificates.
	conf, ok := strings.CutPrefix(string(b[bytes.Index(b, []byte("\n{\n"))+1:]), "{\n")
	if !ok {
		t.Fatal("Caddyfile has no global options block")
	}
	if err := os.WriteFile(cfg, []byte("{\n\tadmin off\n\tauto_https off\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddy, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "KEZEKBOT_DOMAIN=http://"+addr)
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	const (
		token   = "tok3nS3cretLinkPart0123456789abcdef"
		secret  = "webhookSecretValue0123456789abcdef"
		csrf    = "csrfValue0123456789abcdefghijklmn"
		hmacSig = "citySignature0123456789abcdefghij"
		bearer  = "adminBearer0123456789abcdefghijkl"
	)
	client := &http.Client{Timeout: 20 * time.Second}
	send := func(method, path string, h map[string]string) {
		var resp *http.Response
		var err error
		for range 100 { // Caddy needs a moment to listen
			req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+path, strings.NewReader("{}"))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			if resp, err = client.Do(req); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("%s %s: %v\n%s", method, path, err, logs.String())
			return
		}
		resp.Body.Close()
	}
	// No bot answers behind this Caddy: it tries for lb_try_duration (10s), then logs an
	// error with the request and the access log line. The three requests go at once.
	var wg sync.WaitGroup
	for _, r := range []struct {
		method, path string
		h            map[string]string
	}{
		{http.MethodPost, "/telegram/webhook", map[string]string{"X-Telegram-Bot-Api-Secret-Token": secret}},
		{http.MethodPost, "/s/" + token + "?lang=ru", map[string]string{"X-Csrf-Token": csrf, "Cookie": "kz_csrf=" + csrf, "Referer": "http://" + addr + "/s/" + token}},
		{http.MethodGet, "/s/" + token + "/document", map[string]string{"X-Kezek-Signature": hmacSig, "Authorization": "Bearer " + bearer}},
	} {
		wg.Go(func() { send(r.method, r.path, r.h) })
	}
	wg.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), `"handled request"`) < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, `"handled request"`); n < 3 {
		t.Fatalf("want 3 access log entries, got %d:\n%s", n, out)
	}
	for name, v := range map[string]string{"link token": token, "webhook secret": secret, "CSRF token": csrf, "city signature": hmacSig, "bearer token": bearer} {
		if strings.Contains(out, v) {
			t.Errorf("the access log carries the %s:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "/s/REDACTED") {
		t.Errorf("the access log lacks the redacted path /s/REDACTED:\n%s", out)
	}
}

func TestDockerfile(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var froms, users []string
	var final []string // instructions of the last stage
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		line += l
		if strings.HasSuffix(line, `\`) {
			line = strings.TrimSuffix(line, `\`) + " "
			continue
		}
		instr := strings.ToUpper(strings.Fields(line)[0])
		switch instr {
		case "FROM":
			froms = append(froms, line)
			final = nil
		case "USER":
			users = append(users, strings.Fields(line)[1])
		}
		final = append(final, line)
		line = ""
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, have FROMs %v", froms)
	}
	if !strings.Contains(froms[0], "golang:") {
		t.Errorf("first stage %q is not golang", froms[0])
	}
	last := froms[len(froms)-1]
	if !strings.Contains(last, "distroless/static") && !strings.Contains(last, "scratch") {
		t.Errorf("final stage %q is not distroless static or scratch", last)
	}
	if len(users) == 0 {
		t.Fatal("no USER")
	}
	if u := strings.Split(users[len(users)-1], ":")[0]; u == "0" || u == "root" {
		t.Errorf("final USER %s is root", u)
	}
	all := strings.Join(final, "\n")
	for _, want := range []string{"USER 65532", "EXPOSE 8080", `ENTRYPOINT ["/kezekbot"]`, `CMD ["serve"]`} {
		if !strings.Contains(all, want) {
			t.Errorf("final stage lacks %s", want)
		}
	}
	b, _ := os.ReadFile("Dockerfile")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "--mount=type=cache,target=/go/pkg/mod", "timetzdata"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// The health probe's source must survive the ignore file, or the build breaks.
	ig, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ig, []byte("!deployments/healthcheck")) {
		t.Error("Dockerfile.dockerignore excludes deployments/healthcheck, which the image builds")
	}
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/kezekbot.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	if es := keys["ExecStart"]; len(es) != 1 || !strings.HasSuffix(es[0], " serve") {
		t.Errorf("ExecStart = %v, want one ending in serve", es)
	}
	for k, want := range map[string]string{
		"Restart": "on-failure", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
	} {
		if !slices.Contains(keys[k], want) {
			t.Errorf("%s = %v, want %s", k, keys[k], want)
		}
	}
	if len(keys["TimeoutStopSec"]) == 0 || len(keys["EnvironmentFile"]) == 0 {
		t.Error("TimeoutStopSec and EnvironmentFile are required")
	}
	if !slices.Contains(keys["DynamicUser"], "yes") && len(keys["User"]) == 0 {
		t.Error("neither DynamicUser nor User: the unit would run as root")
	}
}

// --- Checks by real tools, when they are installed. None is fetched from the network. ---

func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestKubeconform(t *testing.T) {
	if _, err := exec.LookPath("kubeconform"); err != nil {
		t.Skip("kubeconform not on PATH (Debian has no package for it); schema validation skipped")
	}
	// -ignore-missing-schemas: without network the schemas may be unavailable; the YAML
	// checks above still run.
	out, err := run(t, ".", nil, "kubeconform", "-strict", "-summary", "-ignore-missing-schemas", "-skip", "Kustomization", "k8s")
	if err != nil {
		t.Fatalf("kubeconform: %v\n%s", err, out)
	}
	t.Log(out)
}

func TestKustomizeBuild(t *testing.T) {
	var name string
	var args []string
	switch {
	case lookPath("kustomize"):
		name, args = "kustomize", []string{"build", "k8s"}
	case lookPath("kubectl"):
		name, args = "kubectl", []string{"kustomize", "k8s"}
	default:
		t.Skip("neither kustomize nor kubectl on PATH; kustomize build skipped")
	}
	out, err := run(t, ".", nil, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	if !strings.Contains(out, "image: registry.example.kz/kezekbot:") {
		t.Errorf("kustomize did not set the image:\n%s", out)
	}
}

func lookPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

func TestComposeConfig(t *testing.T) {
	if !lookPath("docker") {
		t.Skip("docker not on PATH; `docker compose config` skipped")
	}
	if out, err := run(t, ".", nil, "docker", "compose", "version"); err != nil {
		// Debian's docker-compose is v1 (1.29), which predates parts of the Compose spec used
		// here, so only the v2 plugin is trusted to judge the file.
		t.Skipf("docker compose (v2 plugin) not available; skipped: %s", strings.TrimSpace(out))
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{"compose.yaml": "compose.yaml", "Caddyfile": "Caddyfile", ".env.example": ".env", "kezekbot.env.example": "kezekbot.env"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, dir, nil, "docker", "compose", "-f", "compose.yaml", "config", "--quiet")
	if err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

func TestCaddyAdapt(t *testing.T) {
	if !lookPath("caddy") {
		t.Skip("caddy not on PATH (apt-get install caddy); Caddyfile syntax check skipped")
	}
	home := t.TempDir() // caddy may write its state under $HOME / XDG dirs
	env := []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home, "KEZEKBOT_DOMAIN=bot.example.kz"}
	out, err := run(t, ".", env, "caddy", "adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
	if err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, out)
	}
	for _, want := range []string{`"dynamic_upstreams"`, `"/telegram/webhook"`, `"/s/*"`, `"bot.example.kz"`} {
		if !strings.Contains(out, want) {
			t.Errorf("adapted config lacks %s", want)
		}
	}
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	if !lookPath("systemd-analyze") {
		t.Skip("systemd-analyze not on PATH; unit verification skipped")
	}
	b, err := os.ReadFile("systemd/kezekbot.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify insists that ExecStart's binary exists; stand in a binary that does.
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no `true` binary to stand in for kezekbot")
	}
	unit := filepath.Join(t.TempDir(), "kezekbot.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(b, []byte("/usr/local/bin/kezekbot"), []byte(truePath)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, ".", []string{"SYSTEMD_LOG_LEVEL=warning"}, "systemd-analyze", "verify", unit)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if strings.Contains(out, "Unknown key") || strings.Contains(out, "Unknown lvalue") {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
}
