package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/manifest"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// k8sPod is a Kubernetes Pod manifest as people write them.
const k8sPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
    tier: frontend
  annotations:
    team: platform
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 20
  nodeSelector:
    kubernetes.io/os: linux
  tolerations:
  - key: nvidia.com/gpu
    operator: Exists
    effect: NoSchedule
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
  containers:
  - name: nginx
    image: nginx:1.27
    imagePullPolicy: IfNotPresent
    command: ["nginx"]
    args: ["-g", "daemon off;"]
    ports:
    - name: http
      containerPort: 8080
      protocol: TCP
    env:
    - name: MODE
      value: production
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    resources:
      requests:
        cpu: 250m
        memory: 64Mi
      limits:
        cpu: "1"
        memory: 128Mi
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      initialDelaySeconds: 5
      periodSeconds: 10
    readinessProbe:
      tcpSocket:
        port: 8080
    volumeMounts:
    - name: cache
      mountPath: /var/cache/nginx
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
  volumes:
  - name: cache
    emptyDir: {}
`

// syncBuffer is a bytes.Buffer safe for a command writing in a goroutine
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code             int
	stdout, stderr   string
	args             []string
	stdoutB, stderrB *syncBuffer
}

// wharf runs the CLI in-process against srv.
func wharf(t *testing.T, srv string, stdin string, args ...string) result {
	t.Helper()
	return wharfCtx(t.Context(), t, srv, stdin, args...)
}

func wharfCtx(ctx context.Context, t *testing.T, srv, stdin string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	all := append([]string{"--server", srv}, args...)
	code := run(ctx, all, streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return result{code: code, stdout: out.String(), stderr: errb.String(), args: args}
}

func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("wharf %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (r result) fails(t *testing.T) result {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("wharf %s: exit 0, want failure\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.stdout, r.stderr)
	}
	return r
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPodRoundTrip(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	url := s.URL()
	file := writeFile(t, t.TempDir(), "pod.yaml", k8sPod)

	t.Run("apply_creates", func(t *testing.T) {
		r := wharf(t, url, "", "apply", "-f", file).ok(t)
		if r.stdout != "pod/web created\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("apply_again_is_unchanged", func(t *testing.T) {
		r := wharf(t, url, "", "apply", "-f", file).ok(t)
		if r.stdout != "pod/web unchanged\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("get_table", func(t *testing.T) {
		r := wharf(t, url, "", "get", "pods").ok(t)
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("stdout = %q, want a header and one row", r.stdout)
		}
		if !regexp.MustCompile(`^NAME +READY +STATUS +RESTARTS +AGE$`).MatchString(lines[0]) {
			t.Errorf("header = %q", lines[0])
		}
		if !regexp.MustCompile(`^web +0/1 +Pending +0 +\d+s$`).MatchString(lines[1]) {
			t.Errorf("row = %q", lines[1])
		}
		// Columns line up.
		if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "Pending") {
			t.Errorf("columns do not line up:\n%s", r.stdout)
		}
	})
	t.Run("get_wide_and_all_namespaces", func(t *testing.T) {
		r := wharf(t, url, "", "get", "po", "-o", "wide", "-A").ok(t)
		if !regexp.MustCompile(`(?m)^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE +IP +NODE$`).MatchString(r.stdout) ||
			!regexp.MustCompile(`(?m)^default +web +0/1 +Pending +0 +\d+s +<none> +<none>$`).MatchString(r.stdout) {
			t.Errorf("stdout =\n%s", r.stdout)
		}
	})
	t.Run("get_yaml_round_trips", func(t *testing.T) {
		r := wharf(t, url, "", "get", "pod", "web", "-o", "yaml").ok(t)
		objs, err := manifest.Decode(strings.NewReader(r.stdout), "get.yaml")
		if err != nil || len(objs) != 1 {
			t.Fatalf("decode the output: %v (%d objects)\n%s", err, len(objs), r.stdout)
		}
		stored, err := s.Client().Pods().Get(t.Context(), "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(objs[0].Message, stored) {
			t.Fatalf("yaml output decodes to\n%v\nwant\n%v", objs[0].Message, stored)
		}
		// And applying it back changes nothing.
		r = wharf(t, url, r.stdout, "apply", "-f", "-").ok(t)
		if r.stdout != "pod/web unchanged\n" {
			t.Fatalf("apply of get -o yaml: %q", r.stdout)
		}
	})
	t.Run("get_json_and_name", func(t *testing.T) {
		r := wharf(t, url, "", "get", "pods", "-o", "json").ok(t)
		objs, err := manifest.Decode(strings.NewReader(r.stdout), "get.json")
		if err != nil || len(objs) != 1 || objs[0].Metadata().GetName() != "web" || !strings.Contains(r.stdout, `"kind": "List"`) {
			t.Fatalf("get -o json: %v\n%s", err, r.stdout)
		}
		r = wharf(t, url, "", "get", "pods", "-o", "name").ok(t)
		if r.stdout != "pod/web\n" {
			t.Fatalf("get -o name = %q", r.stdout)
		}
	})
	t.Run("get_by_label", func(t *testing.T) {
		r := wharf(t, url, "", "get", "pods", "-l", "app=db").ok(t)
		if r.stdout != "" || r.stderr != "No resources found in default namespace.\n" {
			t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
		}
		r = wharf(t, url, "", "get", "pods", "-l", "tier in (frontend)", "-o", "name").ok(t)
		if r.stdout != "pod/web\n" {
			t.Fatalf("stdout %q", r.stdout)
		}
	})
	t.Run("apply_changed_is_configured", func(t *testing.T) {
		changed := strings.Replace(k8sPod, "team: platform", "team: infra", 1)
		r := wharf(t, url, changed, "apply", "-f", "-").ok(t)
		if r.stdout != "pod/web configured\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("describe_shows_events", func(t *testing.T) {
		pod, err := s.Client().Pods().Get(t.Context(), "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		now := timestamppb.Now()
		ev := &wharfv1.Event{
			Metadata: &wharfv1.ObjectMeta{Name: "web.1", Namespace: "default"},
			InvolvedObject: &wharfv1.ObjectReference{
				Kind: "Pod", Name: "web", Namespace: "default", Uid: pod.GetMetadata().GetUid(),
			},
			Reason: "FailedScheduling", Message: "0/0 nodes are available", Type: "Warning",
			Source: &wharfv1.EventSource{Component: "default-scheduler"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
		other := proto.Clone(ev).(*wharfv1.Event)
		other.Metadata.Name = "db.1"
		other.InvolvedObject.Name = "db"
		other.Reason = "Other"
		for _, e := range []*wharfv1.Event{ev, other} {
			if _, err := s.Client().Events().Create(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		r := wharf(t, url, "", "describe", "pod", "web").ok(t)
		for _, want := range []string{
			"Name:", "web", "Namespace:", "default", "Labels:", "app=web", "tier=frontend",
			"Image:", "nginx:1.27", "Liveness:", "http-get http://:http/healthz", "Requests:", "250m",
			"MODE:", "production", "/var/cache/nginx from cache (rw)", "QoS Class:", "Burstable",
			"Tolerations:", "nvidia.com/gpu op=Exists:NoSchedule",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("describe lacks %q", want)
			}
		}
		if !regexp.MustCompile(`(?m)^Events:\n +Type +Reason +Age +From +Message\n +---- +------ +---- +---- +-------\n +Warning +FailedScheduling +\d+s +default-scheduler +0/0 nodes are available\n\z`).MatchString(r.stdout) {
			t.Errorf("describe does not end with the pod's events:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "Other") {
			t.Errorf("describe shows another object's event:\n%s", r.stdout)
		}
		r = wharf(t, url, "", "get", "events").ok(t)
		if !regexp.MustCompile(`^LAST SEEN +TYPE +REASON +OBJECT +MESSAGE\n`).MatchString(r.stdout) ||
			!regexp.MustCompile(`(?m)^\d+s +Warning +FailedScheduling +pod/web +0/0 nodes are available$`).MatchString(r.stdout) {
			t.Errorf("get events =\n%s", r.stdout)
		}
	})
	t.Run("delete", func(t *testing.T) {
		r := wharf(t, url, "", "delete", "pod", "web").ok(t)
		if r.stdout != "pod \"web\" deleted\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
		r = wharf(t, url, "", "get", "pods").ok(t)
		if r.stdout != "" || r.stderr != "No resources found in default namespace.\n" {
			t.Fatalf("get after delete: stdout %q stderr %q", r.stdout, r.stderr)
		}
		r = wharf(t, url, "", "delete", "pod", "web").fails(t)
		if r.stderr != "error: pods \"web\" in namespace \"default\" not found\n" {
			t.Fatalf("delete again: stderr %q", r.stderr)
		}
		wharf(t, url, "", "delete", "pod", "web", "--ignore-not-found").ok(t)
	})
}

func TestApplyRefusesUnknownField(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	good := strings.Replace(k8sPod, "name: web", "name: good", 1)
	bad := strings.Replace(k8sPod, "imagePullPolicy: IfNotPresent", "imagePullPolcy: IfNotPresent", 1)
	bad = strings.Replace(bad, "name: web", "name: bad", 1)
	file := writeFile(t, t.TempDir(), "pods.yaml", good+"---\n"+bad)

	r := wharf(t, s.URL(), "", "apply", "-f", file).fails(t)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing applied", r.stdout)
	}
	for _, want := range []string{"pods.yaml", "document 2", `Pod "bad"`, "spec.containers[0].imagePullPolcy", "imagePullPolicy", "nothing was done"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stderr, "error: ") {
		t.Errorf("stderr = %q, want error: prefix", r.stderr)
	}
	l, err := s.Client().Pods().List(t.Context(), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 0 {
		t.Fatalf("%d pods exist after a refused apply; want none", len(l.Items))
	}
}

func TestApplyDirectoryAndNamespace(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	dir := t.TempDir()
	writeFile(t, dir, "00-ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: staging\n")
	writeFile(t, dir, "10-pods.yml", strings.Replace(k8sPod, "name: web", "name: a", 1)+"---\n"+strings.Replace(k8sPod, "name: web", "name: b", 1))
	writeFile(t, dir, "20-pod.json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`)
	writeFile(t, dir, "README.md", "not a manifest")

	r := wharf(t, s.URL(), "", "apply", "-f", dir, "-n", "staging").ok(t)
	if want := "namespace/staging created\npod/a created\npod/b created\npod/c created\n"; r.stdout != want {
		t.Fatalf("stdout = %q, want %q", r.stdout, want)
	}
	r = wharf(t, s.URL(), "", "get", "pods", "-n", "staging", "-o", "name").ok(t)
	if r.stdout != "pod/a\npod/b\npod/c\n" {
		t.Fatalf("get -n staging = %q", r.stdout)
	}
	r = wharf(t, s.URL(), "", "get", "ns").ok(t)
	if !regexp.MustCompile(`(?m)^staging +Active +\d+s$`).MatchString(r.stdout) {
		t.Fatalf("get ns =\n%s", r.stdout)
	}

	t.Run("namespace_mismatch", func(t *testing.T) {
		f := writeFile(t, t.TempDir(), "p.yaml", strings.Replace(k8sPod, "  name: web\n", "  name: web\n  namespace: prod\n", 1))
		r := wharf(t, s.URL(), "", "apply", "-f", f, "-n", "staging").fails(t)
		if !strings.Contains(r.stderr, `"prod"`) || !strings.Contains(r.stderr, "--namespace=prod") {
			t.Fatalf("stderr = %q", r.stderr)
		}
	})
	t.Run("delete_from_file", func(t *testing.T) {
		r := wharf(t, s.URL(), "", "delete", "-f", filepath.Join(dir, "10-pods.yml"), "-n", "staging").ok(t)
		if r.stdout != "pod \"a\" deleted\npod \"b\" deleted\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("delete_by_selector", func(t *testing.T) {
		r := wharf(t, s.URL(), "", "delete", "pods", "--all", "-n", "staging").ok(t)
		if r.stdout != "pod \"c\" deleted\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
}

func TestGetWatch(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	wharf(t, s.URL(), k8sPod, "apply", "-f", "-").ok(t)

	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--server", s.URL(), "get", "pods", "-w"}, streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	waitUntil(t, func() bool { return strings.Contains(out.String(), "web") }, "initial table", &out)

	pod := newTestPod("db")
	if _, err := s.Client().Pods().Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return strings.Contains(out.String(), "db") }, "the new pod's row", &out)
	if _, err := s.Client().Pods().Delete(t.Context(), "default", "db", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return strings.Count(out.String(), "db") == 2 }, "the deleted pod's row", &out)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("get -w exit %d; stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "web ") ||
		!strings.HasPrefix(lines[2], "db ") || !strings.HasPrefix(lines[3], "db ") {
		t.Fatalf("get -w printed:\n%s", out.String())
	}
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[2], "Pending") {
		t.Errorf("watch rows do not line up with the table:\n%s", out.String())
	}
}

func newTestPod(name string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "app", Image: "busybox:1.36"}}},
	}
}

func waitUntil(t *testing.T, cond func() bool, what string, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	for _, tc := range []struct {
		name   string
		server string
		args   []string
		stderr string // a regexp
	}{
		{"not_found", s.URL(), []string{"get", "pod", "nope"}, `^error: pods "nope" in namespace "default" not found\n$`},
		{"unknown_kind", s.URL(), []string{"get", "widgets"}, `^error: unknown kind "widgets"; known kinds: .*pods \(po\)`},
		{"bad_output", s.URL(), []string{"get", "pods", "-o", "xml"}, `^error: unknown output format "xml"`},
		{"bad_selector", s.URL(), []string{"get", "pods", "--field-selector", "spec.nope=x"}, `^error: .*nope`},
		{"missing_file", s.URL(), []string{"apply", "-f", "/does/not/exist.yaml"}, `^error: cannot read /does/not/exist.yaml: no such file or directory\n`},
		{"apply_without_f", s.URL(), []string{"apply"}, `^error: name the manifests to apply`},
		{"unreachable", "http://127.0.0.1:1", []string{"get", "pods"},
			`^error: the Wharf server is not reachable at http://127.0.0.1:1: .*\nStart one with ` + "`wharf up`" + `, or point --server`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := wharf(t, tc.server, "", tc.args...).fails(t)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !regexp.MustCompile(tc.stderr).MatchString(r.stderr) {
				t.Errorf("stderr = %q, want match for %q", r.stderr, tc.stderr)
			}
		})
	}
}

func TestServerCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	done := make(chan int, 1)
	dir := t.TempDir()
	go func() {
		done <- run(ctx, []string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json"},
			streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	urlRE := regexp.MustCompile(`serving the API at (http://\S+)`)
	waitUntil(t, func() bool { return urlRE.MatchString(out.String()) }, "the server's URL", &out)
	url := urlRE.FindStringSubmatch(out.String())[1]

	r := wharf(t, url, "", "get", "namespaces").ok(t)
	if !regexp.MustCompile(`(?m)^default +Active +\d+s$`).MatchString(r.stdout) {
		t.Fatalf("get namespaces =\n%s", r.stdout)
	}
	r = wharf(t, url, "", "version").ok(t)
	if !strings.Contains(r.stdout, "Client Version: ") || !strings.Contains(r.stdout, "(SERVING)") {
		t.Fatalf("version =\n%s", r.stdout)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("server exit %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `"msg":"server stopped"`) {
		t.Errorf("no JSON shutdown log on stderr:\n%s", errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); err != nil {
		t.Errorf("no store in the data dir: %v", err)
	}
}

func TestEveryKindHasAClient(t *testing.T) {
	t.Parallel()
	c := client.New("http://127.0.0.1:1")
	for _, k := range wharfv1.Kinds {
		if got := resourceFor(c, k).Info(); got.Kind != k.Kind {
			t.Errorf("resourceFor(%s) is the client of %s", k.Kind, got.Kind)
		}
		for _, name := range append([]string{k.Kind, k.Resource, strings.ToLower(k.Kind)}, k.ShortNames...) {
			if got, err := lookupKind(name); err != nil || got.Kind != k.Kind {
				t.Errorf("lookupKind(%q) = %v, %v", name, got.Kind, err)
			}
		}
	}
}

func TestDeleteBoundPod(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	pod := newTestPod("bound")
	pod.Spec.NodeName = "node-1"
	if _, err := s.Client().Pods().Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	r := wharf(t, s.URL(), "", "delete", "pod", "bound").ok(t)
	if r.stdout != "pod \"bound\" deleted\n" {
		t.Fatalf("stdout = %q", r.stdout)
	}
	// The node has not stopped it yet: it shows as Terminating.
	r = wharf(t, s.URL(), "", "get", "pods").ok(t)
	if !regexp.MustCompile(`(?m)^bound +0/1 +Terminating +0 +\d+s$`).MatchString(r.stdout) {
		t.Fatalf("get pods =\n%s", r.stdout)
	}
	r = wharf(t, s.URL(), "", "describe", "pod", "bound").ok(t)
	if !regexp.MustCompile(`(?m)^Status: +Terminating \(lasts `).MatchString(r.stdout) {
		t.Errorf("describe =\n%s", r.stdout)
	}
	r = wharf(t, s.URL(), "", "delete", "pod", "bound", "--force").ok(t)
	if !strings.HasPrefix(r.stderr, "warning: Immediate deletion") {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = wharf(t, s.URL(), "", "get", "pods").ok(t)
	if r.stdout != "" {
		t.Fatalf("pod still there after --force:\n%s", r.stdout)
	}
}

func TestUpCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "warn", "--no-node"},
			streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	urlRE := regexp.MustCompile(`the API is at (http://\S+),`)
	waitUntil(t, func() bool { return urlRE.MatchString(out.String()) }, "wharf up's greeting", &out)
	url := urlRE.FindStringSubmatch(out.String())[1]
	if !strings.Contains(out.String(), "wharf --server "+url+" get pods") {
		t.Errorf("greeting does not show how to reach the server:\n%s", out.String())
	}
	wharf(t, url, k8sPod, "apply", "-f", "-").ok(t)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("up exit %d; stderr:\n%s", code, errb.String())
	}
	if errb.String() != "" {
		t.Errorf("--log-level warn still logged:\n%s", errb.String())
	}
}

func TestVersionClientOnly(t *testing.T) {
	t.Parallel()
	r := wharf(t, "http://127.0.0.1:1", "", "version", "--client").ok(t)
	if !regexp.MustCompile(`^Client Version: \S+.* go1\.\S+ \w+/\w+\n$`).MatchString(r.stdout) {
		t.Fatalf("version --client = %q", r.stdout)
	}
}
