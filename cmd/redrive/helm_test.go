package main

// The Helm chart's tests. They prove that what `helm template` renders from
// helm/redrive is something a cluster and this binary both accept:
//
//   - `helm lint --strict` passes for the defaults and each realistic
//     values file in testdata/helm;
//   - every rendered object decodes strictly into its Kubernetes API Go type
//     (an unknown or misspelt field fails), CRDs into local structs that
//     list the fields of the CRD versions named below;
//   - the Deployment's container args, with its env vars set and its Secret
//     volumes simulated on disk, are parsed and validated by parseRunArgs,
//     the binary's own parser: a flag the binary does not know, or a value
//     it rejects, fails the test (TestHelmChartArgsCheckCanFail proves it);
//   - the pieces agree with each other and with the parsed flags: grace
//     period vs --shutdown-grace, probes and Service vs --http-addr, KEDA's
//     group/topic/brokers/auth vs the flags, replica caps vs --partitions.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

const (
	chartDir       = "../../helm/redrive"
	helmValuesGlob = "../../testdata/helm/*.yaml"
	testNamespace  = "streaming"
	testRelease    = "orders"
)

// requiredValuesYAML holds the only values without a default; with them,
// the chart's defaults render.
const requiredValuesYAML = `kafka:
  brokers: ["kafka-0.kafka.svc:9092"]
topics:
  input: orders
s3:
  bucket: orders-archive
`

// writeValues writes a values file to a temp dir and returns its path.
func writeValues(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// helmBinary finds helm at .tools/bin/helm (what `make tools` installs) or
// on PATH. Without it the chart cannot be rendered: that fails under CI and
// is skipped loudly elsewhere.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../../.tools/bin/helm"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	msg := "helm not found at .tools/bin/helm or on PATH: run `make tools`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Log("!!!!!!!! " + msg + "; SKIPPING the chart rendering checks !!!!!!!!")
	t.Skip(msg)
	return ""
}

// helm runs helm hermetically (its caches in a temp dir) and returns stdout.
func helm(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// chartCase is one way of installing the chart: values files, merged in
// order as helm does, then --set values.
type chartCase struct {
	name   string
	values []string
	set    []string
}

func chartCases(t *testing.T) []chartCase {
	t.Helper()
	files, err := filepath.Glob(helmValuesGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("testdata/helm holds %d values files, want the realistic set (at least 5)", len(files))
	}
	required := writeValues(t, requiredValuesYAML)
	cases := []chartCase{
		{name: "defaults", values: []string{required}},
		// KEDA with the binary's defaults for the group and start offset,
		// which the ScaledObject must mirror, and the SASL mechanism no
		// values file uses.
		{name: "defaults-autoscaling-scram256", values: []string{required, writeValues(t, `
topics: {partitions: 8}
autoscaling: {enabled: true}
kafka:
  sasl: {mechanism: SCRAM-SHA-256, user: redrive, passwordSecret: {name: kafka-user}}
`)}},
	}
	for _, f := range files {
		cases = append(cases, chartCase{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), values: []string{f}})
	}
	return cases
}

func (c chartCase) helmArgs() []string {
	var a []string
	for _, f := range c.values {
		a = append(a, "--values", f)
	}
	for _, s := range c.set {
		a = append(a, "--set", s)
	}
	return a
}

// render runs `helm template` and decodes what it prints.
func render(t *testing.T, bin string, c chartCase) (rendered, error) {
	t.Helper()
	out, err := helm(t, bin, append([]string{"template", testRelease, chartDir, "--namespace", testNamespace}, c.helmArgs()...)...)
	if err != nil {
		return rendered{}, err
	}
	return decodeManifests(out)
}

// TestHelmChart renders and lints the chart for the defaults and every
// values file in testdata/helm, decodes every object strictly, parses the
// container args with the binary's parser, and checks the properties the
// chart promises.
func TestHelmChart(t *testing.T) {
	bin := helmBinary(t)
	for _, c := range chartCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if out, err := helm(t, bin, append([]string{"lint", "--strict", chartDir}, c.helmArgs()...)...); err != nil {
				t.Fatalf("helm lint: %v", err)
			} else if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint: %s", out)
			}
			objs, err := render(t, bin, c)
			if err != nil {
				t.Fatal(err)
			}
			values := readValues(t, c)
			topo := checkDeployment(t, objs, values)
			checkRelatedObjects(t, objs, values, topo)
		})
	}
}

// rendered holds every object of one release, by kind.
type rendered struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*serviceMonitor
	scaledObjects   []*scaledObject
	triggerAuths    []*triggerAuthentication
	testPods        []*corev1.Pod // helm test hooks
	networkPolicies []*networkingv1.NetworkPolicy
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	prometheusRules []*prometheusRule
}

// decodeManifests splits helm's output into documents and decodes each one
// strictly into the Go type of its apiVersion and kind. Kinds the test does
// not know fail too: the chart must not grow objects nobody checks.
func decodeManifests(out string) (rendered, error) {
	var r rendered
	rd := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return r, fmt.Errorf("%w in\n%s", err, doc)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue // an empty document (a template that rendered nothing)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			return r, err
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			obj = add(&r.deployments)
		case "v1 Service":
			obj = add(&r.services)
		case "v1 ServiceAccount":
			obj = add(&r.serviceAccounts)
		case "v1 ConfigMap":
			obj = add(&r.configMaps)
		case "policy/v1 PodDisruptionBudget":
			obj = add(&r.pdbs)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			obj = add(&r.serviceMonitors)
		case "keda.sh/v1alpha1 ScaledObject":
			obj = add(&r.scaledObjects)
		case "keda.sh/v1alpha1 TriggerAuthentication":
			obj = add(&r.triggerAuths)
		case "v1 Pod":
			obj = add(&r.testPods)
		case "networking.k8s.io/v1 NetworkPolicy":
			obj = add(&r.networkPolicies)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			obj = add(&r.hpas)
		case "monitoring.coreos.com/v1 PrometheusRule":
			obj = add(&r.prometheusRules)
		case "v1 Secret":
			return r, errors.New("the chart rendered a Secret: it must only reference existing Secrets")
		default:
			return r, fmt.Errorf("the chart rendered %s %s, which this test does not know how to check", tm.APIVersion, tm.Kind)
		}
		if err := decodeStrict(js, obj); err != nil {
			return r, fmt.Errorf("%s: %w\n%s", tm.Kind, err, doc)
		}
	}
}

// add appends a new zero object to list and returns it to decode into.
func add[T any](list *[]*T) *T {
	o := new(T)
	*list = append(*list, o)
	return o
}

// decodeStrict decodes one JSON object, failing on unknown fields and on
// trailing data.
func decodeStrict(js []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	return nil
}

// The CRDs are decoded into these local structs (unknown fields fail). They
// hold only the fields the chart renders, with the names and types of
// monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator) and
// keda.sh/v1alpha1 ScaledObject / TriggerAuthentication (KEDA 2.x); the
// Kafka trigger's metadata keys are checked by name below.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig struct {
				Behavior json.RawMessage `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Env []struct {
			Parameter     string `json:"parameter"`
			Name          string `json:"name"`
			ContainerName string `json:"containerName"`
		} `json:"env"`
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

// kafkaTriggerKeys are the Kafka scaler's metadata keys the chart may use.
var kafkaTriggerKeys = []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold",
	"offsetResetPolicy", "allowIdleConsumers", "sasl", "tls", "unsafeSsl"}

// chartValues is the part of a case's values the assertions depend on.
type chartValues struct {
	ReplicaCount *int32 `json:"replicaCount"`
	Autoscaling  struct {
		Enabled bool `json:"enabled"`
	} `json:"autoscaling"`
	ServiceMonitor struct {
		Enabled bool `json:"enabled"`
	} `json:"serviceMonitor"`
	GrafanaDashboard struct {
		Enabled bool `json:"enabled"`
	} `json:"grafanaDashboard"`
	Batch struct {
		ParquetSchema any `json:"parquetSchema"`
	} `json:"batch"`
}

func readValues(t *testing.T, c chartCase) chartValues {
	t.Helper()
	var v chartValues
	for _, f := range c.values {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Later files override earlier ones, key by key, as in helm.
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// checkDeployment checks the Deployment and returns the topology its args
// parse into.
func checkDeployment(t *testing.T, objs rendered, values chartValues) redrive.Topology {
	t.Helper()
	if len(objs.deployments) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(objs.deployments))
	}
	dep := objs.deployments[0]
	pod := dep.Spec.Template.Spec
	ctr := redriveContainer(t, dep)

	topo, err := parseDeploymentArgs(t, dep)
	if err != nil {
		t.Fatalf("the binary rejects the chart's args %q: %v", ctr.Args, err)
	}

	// Replicas: 3 by default, the values' count when set, and left to KEDA
	// when it scales the Deployment.
	switch {
	case values.Autoscaling.Enabled:
		if dep.Spec.Replicas != nil {
			t.Errorf("replicas = %d with autoscaling: KEDA owns the count, helm upgrade would reset it", *dep.Spec.Replicas)
		}
	case dep.Spec.Replicas == nil:
		t.Error("replicas unset")
	default:
		want := int32(3)
		if values.ReplicaCount != nil {
			want = *values.ReplicaCount
		}
		if *dep.Spec.Replicas != want {
			t.Errorf("replicas = %d, want %d", *dep.Spec.Replicas, want)
		}
	}

	// The kubelet must leave the binary its whole grace period, and then some.
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds unset")
	}
	tgps := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if tgps <= topo.ShutdownGrace {
		t.Errorf("terminationGracePeriodSeconds %s <= --shutdown-grace %s", tgps, topo.ShutdownGrace)
	}

	// Probes and the port are the ones --http-addr serves.
	_, port, err := net.SplitHostPort(topo.HTTPAddr)
	if err != nil {
		t.Fatalf("--http-addr %q: %v", topo.HTTPAddr, err)
	}
	if len(ctr.Ports) != 1 || ctr.Ports[0].Name != "http" || strconv.Itoa(int(ctr.Ports[0].ContainerPort)) != port {
		t.Errorf("container ports %+v, want one named http on %s (--http-addr %s)", ctr.Ports, port, topo.HTTPAddr)
	}
	for name, p := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"startup": {ctr.StartupProbe, "/healthz"}, "liveness": {ctr.LivenessProbe, "/healthz"}, "readiness": {ctr.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: not an HTTP probe", name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe: GET %s on port %s, want %s on http", name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	checkSecurityContext(t, pod, ctr)

	// Pods spread over zones and nodes, selecting this release's pods.
	if len(pod.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	for _, c := range pod.TopologySpreadConstraints {
		if !selects(c.LabelSelector, dep.Spec.Template.Labels) {
			t.Errorf("topology spread on %s does not select the pods", c.TopologyKey)
		}
	}
	if !selects(dep.Spec.Selector, dep.Spec.Template.Labels) {
		t.Error("the Deployment's selector does not match its pod template")
	}
	if ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
		t.Error("memory request and limit must be set")
	}
	return topo
}

func redriveContainer(t *testing.T, dep *appsv1.Deployment) corev1.Container {
	t.Helper()
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "redrive" {
		t.Fatalf("containers %v, want one named redrive", cs)
	}
	if len(cs[0].Args) == 0 || cs[0].Args[0] != "run" {
		t.Fatalf("args %q, want the run subcommand first", cs[0].Args)
	}
	return cs[0]
}

func checkSecurityContext(t *testing.T, pod corev1.PodSpec, ctr corev1.Container) {
	t.Helper()
	psc, csc := pod.SecurityContext, ctr.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("pod and container securityContext must be set")
	}
	if !isTrue(psc.RunAsNonRoot) || !isTrue(csc.RunAsNonRoot) {
		t.Error("runAsNonRoot must be true")
	}
	if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("runAsUser must be a non-zero uid (distroless nonroot is 65532)")
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Error("capabilities must drop ALL and add none")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: redrive never calls the Kubernetes API")
	}
	// The only writable path is the /tmp emptyDir; Secrets are read-only.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, m := range ctr.VolumeMounts {
		v := vols[m.Name]
		switch {
		case m.MountPath == "/tmp":
			if v.EmptyDir == nil {
				t.Error("/tmp must be an emptyDir")
			}
		case v.Secret != nil && !m.ReadOnly:
			t.Errorf("Secret volume %s mounted writable", m.Name)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchLabels) == 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// secretEnvPlaceholder stands in for values a secretKeyRef would supply: a
// valid value of the flag the env var sets.
func secretEnvPlaceholder(name string) string {
	if name == envName("enrich-header") {
		return "X-Placeholder: secret"
	}
	return "placeholder-secret"
}

// parseDeploymentArgs runs the Deployment's container command line through
// parseRunArgs as the pod would: its env vars are set (placeholders for
// those from Secrets), its Secret volumes are recreated under a temp dir
// with placeholder content, and the args pointing into them are rewritten
// to that dir. A file flag that points at no file of a mounted Secret
// fails, as it would in the pod. The log flags, which the binary checks
// when building its logger, are checked too.
func parseDeploymentArgs(t *testing.T, dep *appsv1.Deployment) (redrive.Topology, error) {
	t.Helper()
	ctr := dep.Spec.Template.Spec.Containers[0]
	clearRedriveEnv(t)
	known := runFlagEnvVars()
	for _, e := range ctr.Env {
		// ff ignores REDRIVE_* variables that name no flag, so a misspelt
		// one would be lost silently in the pod: refuse it here.
		if strings.HasPrefix(e.Name, envPrefix+"_") && !known[e.Name] {
			return redrive.Topology{}, fmt.Errorf("env %s names no flag of redrive run", e.Name)
		}
		switch {
		case e.ValueFrom == nil:
			t.Setenv(e.Name, e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			t.Setenv(e.Name, secretEnvPlaceholder(e.Name))
		default:
			t.Setenv(e.Name, "placeholder-"+e.Name)
		}
	}
	root := t.TempDir()
	files, err := simulateSecretVolumes(t, dep.Spec.Template.Spec, ctr, root)
	if err != nil {
		return redrive.Topology{}, err
	}
	args := slices.Clone(ctr.Args[1:])
	for i, a := range args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok {
			continue
		}
		kind, isFile := fileFlags[name]
		if !isFile {
			continue
		}
		local, ok := files[value]
		if !ok {
			return redrive.Topology{}, fmt.Errorf("--%s=%s: no mounted Secret provides that file", name, value)
		}
		if err := os.WriteFile(local, placeholderFile(t, kind), 0o600); err != nil {
			t.Fatal(err)
		}
		args[i] = "--" + name + "=" + local
	}
	topo, err := parseRunArgs(args)
	if err != nil {
		return topo, err
	}
	if err := checkLogFlags(args); err != nil {
		return topo, err
	}
	if topo.Kafka.TLS.Enabled {
		// Loads the mounted CA and client pair as the binary will.
		if _, err := topo.Kafka.SaramaConfig(); err != nil {
			return topo, err
		}
	}
	return topo, nil
}

// runFlagEnvVars is the set of env vars `redrive run` reads.
func runFlagEnvVars() map[string]bool {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	known := map[string]bool{}
	fs.WalkFlags(func(f ff.Flag) error { //nolint:errcheck // the callback never fails
		if name, ok := f.GetLongName(); ok {
			known[envName(name)] = true
		}
		return nil
	})
	return known
}

// clearRedriveEnv unsets REDRIVE_* variables inherited by the test, so
// that only what the chart sets reaches the parser.
func clearRedriveEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix+"_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// checkLogFlags applies the log flags the way `redrive run` does before it
// starts (parseRunArgs returns the topology only).
func checkLogFlags(args []string) error {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	cmd := &ff.Command{Name: "run", Flags: fs.FlagSet}
	if err := cmd.Parse(args, ff.WithEnvVarPrefix(envPrefix)); err != nil {
		return err
	}
	_, err := c.log.logger(io.Discard)
	return err
}

// fileFlags are the flags that name a file, and what that file holds.
var fileFlags = map[string]string{
	"tls-ca-file":         "ca",
	"tls-cert-file":       "cert",
	"tls-key-file":        "key",
	"sasl-password-file":  "password",
	"enrich-headers-file": "headers",
	"parquet-schema":      "parquet-schema",
}

// simulateSecretVolumes maps each file that a mounted Secret (or ConfigMap) volume
// provides (mountPath/item path) to a path under root.
func simulateSecretVolumes(t *testing.T, pod corev1.PodSpec, ctr corev1.Container, root string) (map[string]string, error) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	files := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s: no such volume", m.Name)
		}
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			items = v.Secret.Items
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
		default:
			continue
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("volume %s: no items, so the file names depend on the keys", m.Name)
		}
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			files[m.MountPath+"/"+it.Path] = filepath.Join(dir, it.Path)
		}
	}
	return files, nil
}

// placeholderFile is valid content for a file flag: PEM for the TLS files
// (one key pair, so that a cert and key mounted together match), a
// password, a headers file.
func placeholderFile(t *testing.T, kind string) []byte {
	t.Helper()
	switch kind {
	case "ca", "cert":
		return testCertPEM(t).cert
	case "key":
		return testCertPEM(t).key
	case "headers":
		return []byte("# from the Secret\nAuthorization: Bearer placeholder\n")
	case "parquet-schema":
		return []byte("columns: [{name: id, type: int64}]\n")
	}
	return []byte("placeholder-password\n")
}

type certPEM struct{ cert, key []byte }

var testCert *certPEM

// testCertPEM is a self-signed certificate, made once per test binary.
func testCertPEM(t *testing.T) certPEM {
	t.Helper()
	if testCert != nil {
		return *testCert
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "placeholder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	testCert = &certPEM{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	return *testCert
}

// checkRelatedObjects checks the objects around the Deployment against it
// and against the parsed flags.
func checkRelatedObjects(t *testing.T, objs rendered, values chartValues, topo redrive.Topology) {
	t.Helper()
	dep := objs.deployments[0]
	podLabels := dep.Spec.Template.Labels
	ctr := dep.Spec.Template.Spec.Containers[0]

	if len(objs.serviceAccounts) != 1 || objs.serviceAccounts[0].Name != dep.Spec.Template.Spec.ServiceAccountName {
		t.Errorf("want one ServiceAccount named %q, the pods' account", dep.Spec.Template.Spec.ServiceAccountName)
	}
	if len(objs.pdbs) != 1 || !selects(objs.pdbs[0].Spec.Selector, podLabels) {
		t.Error("want one PodDisruptionBudget selecting the pods")
	} else if objs.pdbs[0].Spec.MaxUnavailable == nil && objs.pdbs[0].Spec.MinAvailable == nil {
		t.Error("PodDisruptionBudget allows nothing")
	}

	if len(objs.services) != 1 {
		t.Fatalf("%d Services, want 1 (metrics)", len(objs.services))
	}
	svc := objs.services[0]
	if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels) {
		t.Error("the Service does not select the pods")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" ||
		svc.Spec.Ports[0].Port != ctr.Ports[0].ContainerPort {
		t.Errorf("Service ports %+v, want one to the container's http port %d", svc.Spec.Ports, ctr.Ports[0].ContainerPort)
	}

	if want := b2i(values.ServiceMonitor.Enabled); len(objs.serviceMonitors) != want {
		t.Errorf("%d ServiceMonitors, want %d", len(objs.serviceMonitors), want)
	}
	for _, sm := range objs.serviceMonitors {
		if !selects(&sm.Spec.Selector, svc.Labels) {
			t.Error("the ServiceMonitor does not select the Service")
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v, want /metrics on port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
		}
	}

	if want := b2i(values.GrafanaDashboard.Enabled) + b2i(values.Batch.ParquetSchema != nil); len(objs.configMaps) != want {
		t.Errorf("%d ConfigMaps, want %d (the dashboard, the Parquet schema)", len(objs.configMaps), want)
	}
	for _, cm := range objs.configMaps {
		if strings.HasSuffix(cm.Name, "-parquet-schema") {
			checkParquetSchemaConfigMap(t, cm, values, topo)
			continue
		}
		checkDashboardConfigMap(t, cm)
	}

	checkKEDA(t, objs, values, topo)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkParquetSchemaConfigMap: the ConfigMap holds batch.parquetSchema as
// a schema file the binary reads, with the columns of the values.
func checkParquetSchemaConfigMap(t *testing.T, cm *corev1.ConfigMap, values chartValues, topo redrive.Topology) {
	t.Helper()
	sc, err := schema.Parse([]byte(cm.Data["schema.yaml"]), cm.Name, "")
	if err != nil {
		t.Fatalf("the Parquet schema ConfigMap does not parse: %v\n%s", err, cm.Data["schema.yaml"])
	}
	want, _ := json.Marshal(values.Batch.ParquetSchema)
	var fromValues struct{ Columns []schema.Column }
	if err := json.Unmarshal(want, &fromValues); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sc.Columns()) != fmt.Sprint(fromValues.Columns) {
		t.Errorf("ConfigMap columns %v, want the values' %v", sc.Columns(), fromValues.Columns)
	}
	if topo.ParquetSchema == "" {
		t.Error("a Parquet schema ConfigMap, but no --parquet-schema")
	}
}

func checkDashboardConfigMap(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\" for Grafana's sidecar", cm.Labels)
	}
	want, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "redrive.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["redrive.json"]; got != string(want) {
		t.Errorf("dashboard ConfigMap holds %d bytes, want dashboards/redrive.json (%d bytes) verbatim", len(got), len(want))
	}
}

// checkKEDA checks the ScaledObject against the Deployment and the flags:
// it must watch the group and topic the pods consume, reach the brokers
// with the same credentials, and never scale past the partitions.
func checkKEDA(t *testing.T, objs rendered, values chartValues, topo redrive.Topology) {
	t.Helper()
	if !values.Autoscaling.Enabled {
		if len(objs.scaledObjects)+len(objs.triggerAuths) != 0 {
			t.Error("KEDA objects rendered with autoscaling disabled")
		}
		return
	}
	if len(objs.scaledObjects) != 1 {
		t.Fatalf("%d ScaledObjects, want 1", len(objs.scaledObjects))
	}
	dep := objs.deployments[0]
	so := objs.scaledObjects[0]
	if so.Spec.ScaleTargetRef.Name != dep.Name {
		t.Errorf("ScaledObject targets %q, want the Deployment %q", so.Spec.ScaleTargetRef.Name, dep.Name)
	}
	lo, hi := so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount
	switch {
	case lo == nil || hi == nil:
		t.Fatal("minReplicaCount and maxReplicaCount must be set")
	case *lo < 1:
		t.Errorf("minReplicaCount %d: with no pod, DLQ records are never retried", *lo)
	case *hi < *lo:
		t.Errorf("maxReplicaCount %d < minReplicaCount %d", *hi, *lo)
	case *hi > topo.Topics.Partitions:
		t.Errorf("maxReplicaCount %d > --partitions %d: extra pods would only stand by", *hi, topo.Topics.Partitions)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("triggers %+v, want one kafka trigger", so.Spec.Triggers)
	}
	tr := so.Spec.Triggers[0]
	for k := range tr.Metadata {
		if !slices.Contains(kafkaTriggerKeys, k) {
			t.Errorf("kafka trigger metadata %q is not a key of KEDA's Kafka scaler", k)
		}
	}
	wantOffset := map[pipeline.StartOffset]string{pipeline.StartOldest: "earliest", pipeline.StartNewest: "latest"}[topo.StartOffset]
	wantSASL := map[string]string{"": "", "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}[topo.Kafka.SASL.Mechanism]
	wantTLS := ""
	if topo.Kafka.TLS.Enabled {
		wantTLS = "enable"
	}
	for key, want := range map[string]string{
		"bootstrapServers":  strings.Join(topo.Kafka.Brokers, ","),
		"consumerGroup":     topo.Pipeline.Group,
		"topic":             topo.Pipeline.InputTopic, // not the DLQ: its lag is waiting by design
		"offsetResetPolicy": wantOffset,
		"sasl":              wantSASL,
		"tls":               wantTLS,
	} {
		if got := tr.Metadata[key]; got != want {
			t.Errorf("kafka trigger %s = %q, want %q (from the pods' flags)", key, got, want)
		}
	}
	if lt, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || lt < 1 {
		t.Errorf("lagThreshold %q, want a positive integer", tr.Metadata["lagThreshold"])
	}

	needsAuth := topo.Kafka.SASL.Mechanism != "" || topo.Kafka.TLS.CAFile != "" || topo.Kafka.TLS.CertFile != ""
	if !needsAuth {
		if tr.AuthenticationRef != nil || len(objs.triggerAuths) != 0 {
			t.Error("TriggerAuthentication rendered for a cluster without TLS files or SASL")
		}
		return
	}
	if tr.AuthenticationRef == nil || len(objs.triggerAuths) != 1 || objs.triggerAuths[0].Name != tr.AuthenticationRef.Name {
		t.Fatal("the kafka trigger must reference the rendered TriggerAuthentication")
	}
	checkTriggerAuth(t, objs.triggerAuths[0], dep, topo)
}

// checkTriggerAuth proves KEDA authenticates with exactly what the pods
// use: the same Secret keys they mount, the same user env var.
func checkTriggerAuth(t *testing.T, ta *triggerAuthentication, dep *appsv1.Deployment, topo redrive.Topology) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	ctr := pod.Containers[0]
	// Which Secret key each file flag's file comes from in the pod.
	mountOf := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		mountOf[m.Name] = m.MountPath
	}
	secretFile := map[string]string{} // mounted path -> "secret/key"
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			secretFile[mountOf[v.Name]+"/"+it.Path] = v.Secret.SecretName + "/" + it.Key
		}
	}
	flagFile := map[string]string{}
	for _, a := range ctr.Args[1:] {
		if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
			flagFile[name] = value
		}
	}
	want := map[string]string{}
	for param, flag := range map[string]string{"password": "sasl-password-file", "ca": "tls-ca-file", "cert": "tls-cert-file", "key": "tls-key-file"} {
		if f, ok := flagFile[flag]; ok {
			want[param] = secretFile[f]
		}
	}
	got := map[string]string{}
	for _, r := range ta.Spec.SecretTargetRef {
		got[r.Parameter] = r.Name + "/" + r.Key
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TriggerAuthentication secrets %v, want the pods' %v", got, want)
	}
	if topo.Kafka.SASL.Mechanism != "" {
		ok := false
		for _, e := range ta.Spec.Env {
			if e.Parameter == "username" && e.ContainerName == ctr.Name && e.Name == envName("sasl-user") {
				ok = slices.ContainsFunc(ctr.Env, func(v corev1.EnvVar) bool { return v.Name == e.Name && v.Value == topo.Kafka.SASL.User })
			}
		}
		if !ok {
			t.Errorf("TriggerAuthentication must read username from the container's %s (%q)", envName("sasl-user"), topo.Kafka.SASL.User)
		}
	}
}

// TestHelmChartArgsCheckCanFail proves the args check is not vacuous: a
// flag the binary does not know, or a value it rejects, rendered through
// the chart, fails parseDeploymentArgs.
func TestHelmChartArgsCheckCanFail(t *testing.T) {
	bin := helmBinary(t)
	for _, tc := range []struct {
		name, values, want string
	}{
		{"unknown flag", "extraArgs: [\"--no-such-flag=1\"]\n", "no-such-flag"},
		{"invalid value", "windows:\n  maxPendingBytesTotal: 512KiB\n", "max-pending-bytes-total"},
		{"enrichment rule without URL", "enrich:\n  when: 'category == \"X\"'\n", "enrich-url"},
		{"unparsable rule", "enrich:\n  when: 'category ==='\n  url: http://api/x\n", "enrich-when"},
		{"bad log level", "extraArgs: [\"--log-level=loud\"]\n", "log-level"},
		{"unknown env var", "extraEnv:\n  - name: REDRIVE_BATCH_MAX_RECORD\n    value: \"10\"\n", "REDRIVE_BATCH_MAX_RECORD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chartCase{values: []string{writeValues(t, requiredValuesYAML), writeValues(t, tc.values)}}
			objs, err := render(t, bin, c)
			if err != nil {
				// If helm already refuses the values, the binary is not the
				// last line of defence and this case proves nothing.
				t.Fatalf("helm refused the values, the binary check is not exercised: %v", err)
			}
			_, err = parseDeploymentArgs(t, objs.deployments[0])
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestHelmChartRefusesBadValues proves the chart itself stops values that
// would deploy something broken, before anything reaches a cluster.
func TestHelmChartRefusesBadValues(t *testing.T) {
	bin := helmBinary(t)
	required := writeValues(t, requiredValuesYAML)
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"misspelt key", []string{"kafka.borkers[0]=b:9092"}, "borkers"},
		{"missing brokers", []string{"kafka.brokers=null"}, "kafka.brokers"},
		{"duration without unit", []string{"enrich.timeout=2"}, "timeout"},
		{"grace the template cannot add up", []string{"shutdownGrace=1500ms"}, "shutdownGrace"},
		{"SASL without a password Secret", []string{"kafka.sasl.mechanism=PLAIN", "kafka.sasl.user=u"}, "passwordSecret"},
		{"unknown SASL mechanism", []string{"kafka.sasl.mechanism=GSSAPI"}, "mechanism"},
		{"CA Secret without TLS", []string{"kafka.tls.caSecret.name=ca"}, "tls.enabled"},
		{"KEDA past the partitions", []string{"autoscaling.enabled=true", "topics.partitions=6", "autoscaling.maxReplicaCount=8"}, "exceeds topics.partitions"},
		{"KEDA without partitions", []string{"autoscaling.enabled=true"}, "topics.partitions"},
		{"KEDA to zero", []string{"autoscaling.enabled=true", "topics.partitions=6", "autoscaling.minReplicaCount=0"}, "minReplicaCount"},
		{"unknown compression", []string{"batch.compression=lz4"}, "compression"},
		{"unknown partition time", []string{"batch.partitionTime=event"}, "partitionTime"},
		{"partition time naming no field", []string{"batch.partitionTime=field:"}, "partitionTime"},
		{"unknown partition layout", []string{"batch.partitionLayout=weekly"}, "partitionLayout"},
		{"unknown format", []string{"batch.format=csv"}, "format"},
		{"unknown tombstone handling", []string{"topics.tombstones=delete"}, "tombstones"},
		{"parquet without a schema", []string{"batch.format=parquet"}, "batch.parquetSchema is required"},
		{"a schema without parquet", []string{"batch.parquetSchema.columns[0].name=id", "batch.parquetSchema.columns[0].type=int64"}, "only read with batch.format parquet"},
		{"unknown column type", []string{"batch.format=parquet", "batch.parquetSchema.columns[0].name=id", "batch.parquetSchema.columns[0].type=varchar"}, "type"},
		// The optional objects: HPA, NetworkPolicy.
		{"two autoscalers", []string{"hpa.enabled=true", "autoscaling.enabled=true", "topics.partitions=6"}, "choose one"},
		{"HPA past the partitions", []string{"hpa.enabled=true", "topics.partitions=6", "hpa.maxReplicas=8"}, "exceeds topics.partitions"},
		{"HPA without partitions", []string{"hpa.enabled=true"}, "topics.partitions"},
		{"HPA to zero", []string{"hpa.enabled=true", "topics.partitions=6", "hpa.minReplicas=0"}, "minReplicas"},
		{"HPA without a CPU request", []string{"hpa.enabled=true", "topics.partitions=6", "resources.requests=null"}, "resources.requests.cpu"},
		{"misspelt NetworkPolicy key", []string{"networkPolicy.ingres=x"}, "ingres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, bin, chartCase{values: []string{required}, set: tc.set})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template: %v, want a failure naming %q", err, tc.want)
			}
		})
	}
}

// everyValueYAML sets every value that maps onto a flag.
const everyValueYAML = `
kafka:
  brokers: ["k1:9093", "k2:9093"]
  clientId: redrive-all
  version: 3.7.0
  tls:
    enabled: true
    insecureSkipVerify: true
    caSecret: {name: kafka-ca}
    clientCertSecret: {name: kafka-client}
  sasl: {mechanism: SCRAM-SHA-256, user: u, passwordSecret: {name: kafka-user}}
topics:
  group: g
  sessionTimeout: 20s
  heartbeatInterval: 5s
  rebalanceTimeout: 90s
  input: in
  dlq: in-dlq
  parking: in-parked
  startOffset: newest
  tombstones: skip
  create: true
  partitions: 4
  replicationFactor: 3
enrich:
  when: "true"
  url: http://api/x/{id}
  method: PUT
  field: extra
  timeout: 3s
  concurrency: 8
  retries: 0
  headers: ["Accept: application/json"]
  headersSecret: {name: api-token}
  breakerFailures: 3
  breakerOpenFor: 20s
lookup: {topic: profiles, key: user_id, miss: retry, dir: /tmp/lookup, maxBytes: 64MiB, cacheTtl: 5m, cacheSize: 500}
s3: {bucket: b, prefix: p, endpoint: "http://minio:9000", region: eu-west-1, pathStyle: true, sse: "aws:kms", sseKmsKeyId: "alias/redrive"}
batch:
  maxRecords: 100
  maxBytes: 1MiB
  maxAge: 10s
  format: parquet
  parquetSchema: {columns: [{name: id, type: int64, required: true}, {name: ts, type: timestamp}]}
  parquetRowGroupBytes: 512KiB
  compression: none
  gzipLevel: 6
  partitionTime: "field:ts"
  partitionLayout: daily
retry: {base: 500ms, maxDelay: 1m, maxAttempts: 5, maxAge: 1h}
windows: {maxPending: 1000, maxWaiting: 10, maxRecordBytes: 512KiB, maxPendingBytes: 2MiB, maxPendingBytesTotal: 8MiB, fetchBytes: 128KiB, commitInterval: 2s}
logging: {level: warn, format: text}
`

// unmappedFlags are the `redrive run` flags the chart deliberately has no
// value for, and why.
var unmappedFlags = map[string]string{
	"output-dir":    "pods write to S3; the root filesystem is read-only",
	"sasl-password": "a password never goes in values or args: kafka.sasl.passwordSecret mounts it as --sasl-password-file",
	"config":        "the chart's values are the configuration; a file would be a second source of truth",
	"print-config":  "a command for people, not for pods",
}

// TestHelmChartMapsEveryFlag proves the values cover `redrive run`: each
// flag is rendered (as an arg or its env var) when every value is set, or
// is listed in unmappedFlags with a reason. A flag added to the binary
// fails here until the chart maps it. Zero values are passed too (retries
// 0 is not "unset").
func TestHelmChartMapsEveryFlag(t *testing.T) {
	bin := helmBinary(t)
	objs, err := render(t, bin, chartCase{values: []string{writeValues(t, everyValueYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	ctr := objs.deployments[0].Spec.Template.Spec.Containers[0]
	if _, err := parseDeploymentArgs(t, objs.deployments[0]); err != nil {
		t.Fatalf("the binary rejects %q: %v", ctr.Args, err)
	}
	rendered := map[string]bool{}
	for _, a := range ctr.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		rendered[name] = true
	}
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	fs.WalkFlags(func(f ff.Flag) error { //nolint:errcheck // the callback never fails
		name, _ := f.GetLongName()
		byEnv := slices.ContainsFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == envName(name) })
		_, skipped := unmappedFlags[name]
		switch {
		case skipped && (rendered[name] || byEnv):
			t.Errorf("--%s is in unmappedFlags but the chart renders it", name)
		case !skipped && !rendered[name] && !byEnv:
			t.Errorf("--%s: no chart value renders it (map it in templates/_helpers.tpl and values.yaml, or list it in unmappedFlags)", name)
		}
		return nil
	})
}

// TestHelmChartShutdownGraceDerivation proves terminationGracePeriodSeconds
// follows --shutdown-grace (it is derived, not a second setting).
func TestHelmChartShutdownGraceDerivation(t *testing.T) {
	bin := helmBinary(t)
	required := writeValues(t, requiredValuesYAML)
	for grace, want := range map[string]int64{"30s": 45, "2m": 135, "1m30s": 105, "1h": 3615} {
		objs, err := render(t, bin, chartCase{values: []string{required}, set: []string{"shutdownGrace=" + grace}})
		if err != nil {
			t.Fatal(err)
		}
		got := objs.deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds
		if got == nil || *got != want {
			t.Errorf("shutdownGrace %s: terminationGracePeriodSeconds %v, want %d (grace + 15s margin)", grace, got, want)
		}
		if !slices.Contains(objs.deployments[0].Spec.Template.Spec.Containers[0].Args, "--shutdown-grace="+grace) {
			t.Errorf("shutdownGrace %s not passed as --shutdown-grace", grace)
		}
	}
}

// TestDashboardQueriesExportedMetrics proves every metric the Grafana
// dashboard queries is one the binary exports (collected from the real
// pipeline, enrich and sinks constructors and the Go/process collectors
// that redrive registers), with the labels it groups by. It needs no helm.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	b, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "redrive.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	targetLabels := []string{"namespace", "job", "pod", "instance", "service", "container", "endpoint"}
	metricRe := regexp.MustCompile(`\b(redrive_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+)\b`)
	labelRe := regexp.MustCompile(`(?:by|without) \(([^)]*)\)|[{,]\s*([a-z_]+)\s*(?:=~|!=|!~|=)`)
	ids := map[int]bool{}
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want queries on the ${datasource} variable", p.Title)
		}
		for _, tg := range p.Targets {
			allowed := slices.Clone(targetLabels)
			for _, m := range metricRe.FindAllString(tg.Expr, -1) {
				base, labels, ok := exported.lookup(m)
				if !ok {
					t.Errorf("panel %q queries %s, which the binary does not export", p.Title, m)
					continue
				}
				queried[base] = true
				allowed = append(allowed, labels...)
			}
			for _, g := range labelRe.FindAllStringSubmatch(tg.Expr, -1) {
				for _, l := range strings.Split(g[1]+","+g[2], ",") {
					if l = strings.TrimSpace(l); l != "" && !slices.Contains(allowed, l) {
						t.Errorf("panel %q uses label %q, which its metrics do not have: %s", p.Title, l, tg.Expr)
					}
				}
			}
		}
	}
	// The dashboard covers each area of the binary.
	for _, prefix := range []string{"redrive_records_", "redrive_enrich_", "redrive_sink_", "redrive_partition_", "redrive_dlq_",
		"redrive_consumer_lag_", "redrive_kafka_session_"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(queried)), func(m string) bool { return strings.HasPrefix(m, prefix) }) {
			t.Errorf("the dashboard shows no %s* metric", prefix)
		}
	}
}

// metricSet maps exported metric names to their variable labels.
type metricSet struct {
	labels     map[string][]string
	histograms map[string]bool
}

// lookup resolves a queried series name (histogram series carry _bucket,
// _sum, _count suffixes) to the exported metric and its labels.
func (s metricSet) lookup(name string) (base string, labels []string, ok bool) {
	if l, ok := s.labels[name]; ok {
		return name, l, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		b := strings.TrimSuffix(name, suffix)
		if b != name && s.histograms[b] {
			l := s.labels[b]
			if suffix == "_bucket" {
				l = append(slices.Clone(l), "le")
			}
			return b, l, true
		}
	}
	return "", nil, false
}

// describeRegistry records what collectors describe, without serving them:
// vectors are described (name and labels) before any series exists.
type describeRegistry struct{ metricSet }

var (
	descNameRe   = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)
	descLabelsRe = regexp.MustCompile(`variableLabels: \{([^}]*)\}\}$`)
)

func (r *describeRegistry) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	_, isHist := c.(prometheus.Histogram)
	_, isHistVec := c.(*prometheus.HistogramVec)
	for d := range ch {
		s := d.String()
		name := descNameRe.FindStringSubmatch(s)
		if name == nil {
			return fmt.Errorf("unparsable %s", s)
		}
		var labels []string
		if m := descLabelsRe.FindStringSubmatch(s); m != nil && m[1] != "" {
			labels = strings.Split(m[1], ",")
		}
		r.labels[name[1]] = labels
		if isHist || isHistVec {
			r.histograms[name[1]] = true
		}
	}
	return nil
}

func (r *describeRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *describeRegistry) Unregister(prometheus.Collector) bool { return true }

// exportedMetrics builds the collectors redrive registers at run time.
func exportedMetrics(t *testing.T) metricSet {
	t.Helper()
	reg := &describeRegistry{metricSet{labels: map[string][]string{}, histograms: map[string]bool{}}}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.labels["up"] = nil // Prometheus's own series per target

	client, err := enrich.New(enrich.Config{URL: "http://127.0.0.1:1/x"}, enrich.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.NewTable(pipeline.TableConfig{Topic: "profiles"}, nil, nil, pipeline.WithTableRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	store, err := sinks.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	batcher, err := sinks.NewBatcher(sinks.Config{}, store, sinks.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { batcher.Close(t.Context()) })
	_, err = pipeline.New(pipeline.Config{Group: "g", InputTopic: "in", DLQTopic: "in.dlq", ParkingTopic: "in.parking", CacheTTL: time.Minute},
		pipeline.Deps{Sink: batcher, Forwarder: nopForwarder{}, Enricher: client, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"redrive_records_routed_total", "redrive_enrich_requests_total", "redrive_sink_batches_total"} {
		if _, ok := reg.labels[must]; !ok {
			t.Fatalf("collected metrics %v lack %s: the collection is broken", reg.labels, must)
		}
	}
	return reg.metricSet
}

// nopForwarder satisfies pipeline.Forwarder; nothing is forwarded here.
type nopForwarder struct{}

func (nopForwarder) Forward(string, int32, []byte, []byte, []dlq.Header, func(error)) {}
