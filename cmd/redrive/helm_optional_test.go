package main

// The chart's optional objects: the `helm test` hook, the NetworkPolicy,
// the plain HPA and the PrometheusRule. Each is off by default; with it on,
// it must fit the objects around it (the Service it tests, the pods it
// guards or scales) and, for the alerts, the metrics the binary exports
// and the README's runbooks.

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// prometheusRule holds the fields of monitoring.coreos.com/v1
// PrometheusRule (prometheus-operator) that the chart renders.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// optionalValuesYAML turns every optional object on.
const optionalValuesYAML = `
topics: {partitions: 8}
tests: {enabled: true}
hpa: {enabled: true, maxReplicas: 6}
prometheusRule: {enabled: true, alertLabels: {team: data}, runbookURL: "https://example.com/runbook.md"}
networkPolicy:
  enabled: true
  metricsFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
  egress:
    - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
`

// wantAlerts are the alerts on-call asked for.
var wantAlerts = []string{"RedriveLagGrowing", "RedriveNoProgress", "RedriveParkedRate", "RedriveBreakerOpen",
	"RedriveUploadsFailing", "RedriveSessionRestarts", "RedrivePodsNotReady"}

func TestHelmChartOptionalObjectsAreOffByDefault(t *testing.T) {
	bin := helmBinary(t)
	objs, err := render(t, bin, chartCase{values: []string{writeValues(t, requiredValuesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(objs.testPods) + len(objs.networkPolicies) + len(objs.hpas) + len(objs.prometheusRules); n != 0 {
		t.Errorf("the defaults render %d optional objects, want none", n)
	}
	if objs.deployments[0].Spec.Replicas == nil {
		t.Error("without an autoscaler the Deployment must set its replicas")
	}
}

func TestHelmChartOptionalObjects(t *testing.T) {
	bin := helmBinary(t)
	c := chartCase{values: []string{writeValues(t, requiredValuesYAML), writeValues(t, optionalValuesYAML)}}
	if out, err := helm(t, bin, append([]string{"lint", "--strict", chartDir}, c.helmArgs()...)...); err != nil || !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	objs, err := render(t, bin, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.testPods) != 1 || len(objs.networkPolicies) != 1 || len(objs.hpas) != 1 || len(objs.prometheusRules) != 1 {
		t.Fatalf("rendered %d test pods, %d NetworkPolicies, %d HPAs, %d PrometheusRules; want one each",
			len(objs.testPods), len(objs.networkPolicies), len(objs.hpas), len(objs.prometheusRules))
	}
	t.Run("helm test asks the Service for /readyz", func(t *testing.T) { checkTestPod(t, objs) })
	t.Run("the NetworkPolicy opens the metrics port only", func(t *testing.T) { checkNetworkPolicy(t, objs) })
	t.Run("the HPA scales the Deployment within the partitions", func(t *testing.T) { checkHPA(t, objs) })
	t.Run("the alerts query exported metrics and link runbooks", func(t *testing.T) { checkPrometheusRule(t, objs) })
}

func checkTestPod(t *testing.T, objs rendered) {
	pod := objs.testPods[0]
	svc := objs.services[0]
	if pod.Annotations["helm.sh/hook"] != "test" {
		t.Errorf("test pod annotations %v: want helm.sh/hook: test", pod.Annotations)
	}
	for what, sel := range map[string]*metav1.LabelSelector{
		"Service":                    {MatchLabels: svc.Spec.Selector},
		"Deployment":                 objs.deployments[0].Spec.Selector,
		"NetworkPolicy pod selector": &objs.networkPolicies[0].Spec.PodSelector,
	} {
		if selects(sel, pod.Labels) {
			t.Errorf("the %s selects the test pod (labels %v) as one of redrive's", what, pod.Labels)
		}
	}
	want := fmt.Sprintf("http://%s.%s.svc:%d/readyz", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port)
	ctr := pod.Spec.Containers[0]
	if pod.Spec.RestartPolicy != "Never" || !slices.Contains(ctr.Args, want) || !slices.Contains(ctr.Args, "--fail") {
		t.Errorf("test pod restart %q, args %v: want Never and curl --fail %s", pod.Spec.RestartPolicy, ctr.Args, want)
	}
	checkSecurityContext(t, pod.Spec, ctr)
}

func checkNetworkPolicy(t *testing.T, objs rendered) {
	np := objs.networkPolicies[0]
	dep := objs.deployments[0]
	ctr := dep.Spec.Template.Spec.Containers[0]
	if !selects(&np.Spec.PodSelector, dep.Spec.Template.Labels) {
		t.Error("the NetworkPolicy does not select the pods")
	}
	if len(np.Spec.Ingress) != 1 {
		t.Fatalf("%d ingress rules, want one (the metrics port)", len(np.Spec.Ingress))
	}
	in := np.Spec.Ingress[0]
	if len(in.Ports) != 1 || in.Ports[0].Port == nil || in.Ports[0].Port.String() != ctr.Ports[0].Name {
		t.Errorf("ingress ports %+v, want only the container's %q port", in.Ports, ctr.Ports[0].Name)
	}
	testPodAllowed := false
	for _, peer := range in.From {
		if peer.PodSelector != nil && peer.NamespaceSelector == nil && selects(peer.PodSelector, objs.testPods[0].Labels) {
			testPodAllowed = true
		}
	}
	if len(in.From) != 2 || !testPodAllowed {
		t.Errorf("ingress from %+v: want the listed peer and the helm test pod", in.From)
	}
	if !slices.Contains(np.Spec.PolicyTypes, "Egress") || len(np.Spec.Egress) != 2 {
		t.Fatalf("egress %+v (policy types %v): want DNS and the listed rule", np.Spec.Egress, np.Spec.PolicyTypes)
	}
	dns := np.Spec.Egress[0]
	if len(dns.To) != 0 || len(dns.Ports) != 2 || dns.Ports[0].Port.IntValue() != 53 {
		t.Errorf("first egress rule %+v: want DNS (port 53) to anywhere", dns)
	}
}

func checkHPA(t *testing.T, objs rendered) {
	h := objs.hpas[0]
	dep := objs.deployments[0]
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != dep.Name {
		t.Errorf("HPA targets %+v, want Deployment %s", h.Spec.ScaleTargetRef, dep.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas != 6 {
		t.Errorf("HPA replicas %v..%d, want 1..6", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != "cpu" {
		t.Errorf("HPA metrics %+v, want CPU utilization", h.Spec.Metrics)
	}
	if _, ok := dep.Spec.Template.Spec.Containers[0].Resources.Requests["cpu"]; !ok {
		t.Error("an HPA on CPU needs a CPU request")
	}
	if dep.Spec.Replicas != nil {
		t.Errorf("the Deployment sets replicas %d, which would fight the HPA on every upgrade", *dep.Spec.Replicas)
	}
	if h.Spec.Behavior == nil || h.Spec.Behavior.ScaleDown == nil {
		t.Error("HPA without the chart's slow scale-down behavior")
	}
}

func checkPrometheusRule(t *testing.T, objs rendered) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(t)
	svc := objs.services[0]
	sel := `namespace="` + svc.Namespace + `", job="` + svc.Name + `"`
	metricRe := regexp.MustCompile(`\b(redrive_[a-z0-9_]+|up)\{`)
	labelRe := regexp.MustCompile(`(?:by|without) \(([^)]*)\)`)
	var got []string
	for _, g := range objs.prometheusRules[0].Spec.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			if r.Labels["severity"] == "" || r.Labels["team"] != "data" {
				t.Errorf("%s: labels %v, want a severity and the alertLabels", r.Alert, r.Labels)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: annotations %v, want a summary and a description", r.Alert, r.Annotations)
			}
			anchor := strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != "https://example.com/runbook.md#"+anchor {
				t.Errorf("%s: runbook_url %q, want the runbookURL with #%s", r.Alert, r.Annotations["runbook_url"], anchor)
			}
			if !strings.Contains(string(readme), "\n#### "+r.Alert+"\n") {
				t.Errorf("%s: the README has no runbook heading \"#### %s\" for #%s", r.Alert, r.Alert, anchor)
			}
			metrics := metricRe.FindAllStringSubmatch(r.Expr, -1)
			if len(metrics) == 0 {
				t.Errorf("%s: no metric found in %q", r.Alert, r.Expr)
			}
			var allowed []string
			for _, m := range metrics {
				_, labels, ok := exported.lookup(m[1])
				if !ok {
					t.Errorf("%s queries %s, which the binary does not export", r.Alert, m[1])
				}
				allowed = append(allowed, labels...)
			}
			// DLQ records waiting for their not-before time are lag by
			// design: lag alerts look at the input topic only.
			if n := strings.Count(r.Expr, "redrive_consumer_lag_records{"); n != strings.Count(r.Expr, `redrive_consumer_lag_records{`+sel+`, topic="orders"}`) {
				t.Errorf("%s: a lag selector is not scoped to the input topic: %s", r.Alert, r.Expr)
			}
			if n := strings.Count(r.Expr, "{"); strings.Count(r.Expr, sel) != n {
				t.Errorf("%s: %d of %d selectors scope to this release's targets (%s): %s", r.Alert, strings.Count(r.Expr, sel), n, sel, r.Expr)
			}
			for _, m := range labelRe.FindAllStringSubmatch(r.Expr, -1) {
				for _, l := range strings.Split(m[1], ",") {
					if l = strings.TrimSpace(l); l != "" && l != "pod" && !slices.Contains(allowed, l) {
						t.Errorf("%s groups by %q, which its metrics do not have: %s", r.Alert, l, r.Expr)
					}
				}
			}
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(wantAlerts))
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

// The README's metrics table names every metric the binary exports (and
// those being added for the alerts), so on-call can look each one up.
func TestREADMEListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Collect(maps.Keys(exportedMetrics(t).labels))
	names = append(names, "redrive_build_info")
	for _, name := range names {
		if !strings.HasPrefix(name, "redrive_") {
			continue // go_*, process_* and up are listed as families
		}
		if !strings.Contains(string(readme), "`"+name+"`") && !strings.Contains(string(readme), "`"+name+"{") {
			t.Errorf("README's metrics table lacks %s", name)
		}
	}
}
