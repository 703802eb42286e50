#!/usr/bin/env python3
"""Tests of the paymento-bridge Helm chart and the plain manifests.

Lints the chart with `helm lint --strict` and renders it with `helm template`
for the default values and for every value set under helm/paymento-bridge/ci/.
The tests then check what the chart promises:
  - no secret in a ConfigMap or an annotation;
  - probes on the admin port and hardened security contexts;
  - a StatefulSet for SQLite and a Deployment for PostgreSQL;
  - an Ingress limited to the webhook routes, with TLS;
  - gRPC and admin bound to the pod IP, with tokens from Secrets;
  - a values schema that rejects wrong types.
The manifests under deploy/kubernetes get the same pod checks.

Requirements:
  - Helm 3 (scripts/fetch-helm.sh DEST_DIR fetches Helm 3.17).
  - PyYAML from Debian: apt-get install python3-yaml
  - Optional: promtool (Debian package prometheus) to check the alert rules.

Usage:
  /usr/bin/python3 tests/helm/test_chart.py --helm PATH_TO_HELM \
      [--promtool PATH_TO_PROMTOOL] [unittest options]

The last line of the output reads "N passed, N failed"; the exit status is
non-zero when a test failed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART_DIR = os.path.join(REPO_ROOT, "helm", "paymento-bridge")
CI_DIR = os.path.join(CHART_DIR, "ci")
MANIFESTS_DIR = os.path.join(REPO_ROOT, "deploy", "kubernetes")

RELEASE = "pb"
NAMESPACE = "payments"
FULLNAME = "pb-paymento-bridge"

ADMIN_PORT = 9090
GRPC_PORT = 50051
DATA_DIR = "/var/lib/paymento-bridge"

# Value sets that must exist under ci/, by file name.
REQUIRED_CI_FILES = (
    "sqlite-existing-secret-values.yaml",
    "postgres-ha-values.yaml",
    "ingress-tls-values.yaml",
    "monitoring-values.yaml",
    "networkpolicy-values.yaml",
    "grpc-tls-values.yaml",
)

# Names of environment variables and ConfigMap keys that carry a secret.
SECRET_NAME_PATTERN = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|DSN",
                                 re.IGNORECASE)
# Text that is a secret wherever it appears: a URL with a password, a PEM
# block, or a bearer token.
SECRET_TEXT_PATTERNS = (
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),
    re.compile(r"-----BEGIN [A-Z ]+-----"),
    re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
)

HELM = "helm"
PROMTOOL = None


def run_helm(*args):
    """Runs helm with args and returns the CompletedProcess."""
    return subprocess.run([HELM, *args], capture_output=True, text=True,
                          check=False)


def render(value_files=(), set_values=()):
    """Renders the chart and returns its documents, or raises AssertionError
    with helm's output when rendering fails."""
    args = ["template", RELEASE, CHART_DIR, "--namespace", NAMESPACE]
    for path in value_files:
        args += ["-f", path]
    for assignment in set_values:
        args += ["--set", assignment]
    result = run_helm(*args)
    if result.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def ci_files():
    return sorted(os.path.join(CI_DIR, name) for name in os.listdir(CI_DIR)
                  if name.endswith(".yaml"))


def value_sets():
    """Maps a value set's name to its value files: the defaults, then each
    ci/ file."""
    sets = {"default": []}
    for path in ci_files():
        sets[os.path.basename(path)] = [path]
    return sets


def load_manifests():
    docs = []
    for name in sorted(os.listdir(MANIFESTS_DIR)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            with open(os.path.join(MANIFESTS_DIR, name)) as stream:
                docs += [doc for doc in yaml.safe_load_all(stream) if doc]
    return docs


def of_kind(docs, kind):
    return [doc for doc in docs if doc.get("kind") == kind]


def workloads(docs):
    return of_kind(docs, "StatefulSet") + of_kind(docs, "Deployment")


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def bridge_container(workload):
    containers = pod_spec(workload)["containers"]
    return next(c for c in containers if c["name"] == "paymento-bridge")


def env_by_name(container):
    return {item["name"]: item for item in container.get("env", [])}


def secret_volumes(workload):
    """Maps the name of each Secret volume to its `secret` source."""
    return {volume["name"]: volume["secret"]
            for volume in pod_spec(workload).get("volumes", [])
            if "secret" in volume}


def secret_file_source(workload, path):
    """Returns the (volume name, secret source) whose mount contains path as
    a projected item, or None when path lies in no Secret volume."""
    container = bridge_container(workload)
    volumes = secret_volumes(workload)
    for mount in container.get("volumeMounts", []):
        if mount["name"] not in volumes:
            continue
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        source = volumes[mount["name"]]
        relative = path[len(prefix):]
        items = source.get("items")
        if items is None or any(item["path"] == relative for item in items):
            return mount["name"], source
    return None


def all_annotations(docs):
    """Yields (where, key, value) for the annotations of every resource and
    every pod template."""
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            yield where, key, value
        template = doc.get("spec", {}).get("template")
        if isinstance(template, dict):
            annotations = template.get("metadata", {}).get("annotations")
            for key, value in (annotations or {}).items():
                yield where + " pod template", key, value


class PodChecks:
    """Checks of a workload's pod, shared by the chart and the plain
    manifests. Mixed into unittest.TestCase classes."""

    def check_probes(self, where, workload):
        container = bridge_container(workload)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertEqual(ports.get("admin"), ADMIN_PORT,
                         f"{where}: container port 'admin' is not "
                         f"{ADMIN_PORT}")
        expected_paths = {"startupProbe": "/healthz",
                          "livenessProbe": "/healthz",
                          "readinessProbe": "/readyz"}
        for probe_name, path in expected_paths.items():
            probe = container.get(probe_name)
            self.assertIsNotNone(probe, f"{where}: {probe_name} is missing")
            self.assertIn("httpGet", probe,
                          f"{where}: {probe_name} is not an HTTP probe")
            port = probe["httpGet"]["port"]
            self.assertIn(port, ("admin", ADMIN_PORT),
                          f"{where}: {probe_name} targets port {port!r}, "
                          "not the admin port")
            self.assertEqual(probe["httpGet"]["path"], path,
                             f"{where}: {probe_name} path")
            self.assertNotIn("host", probe["httpGet"],
                             f"{where}: {probe_name} must use the pod IP")

    def check_pod_security(self, where, workload):
        spec = pod_spec(workload)
        context = spec.get("securityContext") or {}
        self.assertIs(context.get("runAsNonRoot"), True,
                      f"{where}: pod runAsNonRoot is not true")
        self.assertNotEqual(context.get("runAsUser"), 0,
                            f"{where}: pod runs as uid 0")
        self.assertEqual((context.get("seccompProfile") or {}).get("type"),
                         "RuntimeDefault",
                         f"{where}: pod seccompProfile is not RuntimeDefault")
        self.assertIs(spec.get("automountServiceAccountToken"), False,
                      f"{where}: a Kubernetes API token is mounted")

    def check_container_security(self, where, workload):
        for container in pod_spec(workload)["containers"]:
            name = f"{where} container {container['name']}"
            context = container.get("securityContext") or {}
            self.assertIs(context.get("runAsNonRoot"), True,
                          f"{name}: runAsNonRoot is not true")
            self.assertIs(context.get("readOnlyRootFilesystem"), True,
                          f"{name}: readOnlyRootFilesystem is not true")
            self.assertIs(context.get("allowPrivilegeEscalation"), False,
                          f"{name}: allowPrivilegeEscalation is not false")
            self.assertNotEqual(context.get("privileged"), True,
                                f"{name}: privileged")
            self.assertEqual(
                (context.get("capabilities") or {}).get("drop"), ["ALL"],
                f"{name}: capabilities.drop is not [ALL]")
            self.assertFalse((context.get("capabilities") or {}).get("add"),
                             f"{name}: adds capabilities")
            self.assertEqual(
                (context.get("seccompProfile") or {}).get("type"),
                "RuntimeDefault",
                f"{name}: seccompProfile is not RuntimeDefault")

    def check_pod_ip_bindings(self, where, workload):
        container = bridge_container(workload)
        args = container.get("args", [])
        self.assertIn(f"--grpc-listen=$(POD_IP):{GRPC_PORT}", args,
                      f"{where}: gRPC does not bind the pod IP")
        self.assertIn(f"--admin-listen=$(POD_IP):{ADMIN_PORT}", args,
                      f"{where}: admin does not bind the pod IP")
        pod_ip = env_by_name(container).get("POD_IP")
        self.assertIsNotNone(pod_ip, f"{where}: POD_IP is not set")
        self.assertEqual(
            pod_ip.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath"),
            "status.podIP", f"{where}: POD_IP is not the pod IP")

    def check_secret_from_file_or_ref(self, where, workload, variable):
        """Checks that variable, or variable_FILE, comes from a Secret."""
        container = bridge_container(workload)
        env = env_by_name(container)
        direct = env.get(variable)
        from_file = env.get(variable + "_FILE")
        self.assertTrue(direct or from_file,
                        f"{where}: neither {variable} nor {variable}_FILE "
                        "is set")
        if direct is not None:
            self.assertNotIn("value", direct,
                             f"{where}: {variable} is a literal value")
            self.assertIn("secretKeyRef", direct.get("valueFrom", {}),
                          f"{where}: {variable} is not from secretKeyRef")
        if from_file is not None:
            path = from_file.get("value", "")
            self.assertTrue(
                secret_file_source(workload, path),
                f"{where}: {variable}_FILE={path!r} is not a file of a "
                "mounted Secret volume")
        for mount in container.get("volumeMounts", []):
            if mount["name"] in secret_volumes(workload):
                self.assertNotIn("subPath", mount,
                                 f"{where}: Secret volume {mount['name']} is "
                                 "mounted with subPath, which never updates")


class ChartTestCase(PodChecks, unittest.TestCase):
    """Renders every value set once for all tests."""

    rendered = {}

    @classmethod
    def setUpClass(cls):
        if not ChartTestCase.rendered:
            for name, files in value_sets().items():
                ChartTestCase.rendered[name] = render(files)

    def render_set(self, name):
        self.assertIn(name, self.rendered, f"value set {name} is missing")
        return self.rendered[name]

    def for_each_workload(self):
        """Yields (value set, workload) over every rendered value set."""
        for name, docs in self.rendered.items():
            found = workloads(docs)
            self.assertEqual(len(found), 1,
                             f"{name}: expected one workload, got "
                             f"{[w['kind'] for w in found]}")
            yield name, found[0]


class ChartLintTest(unittest.TestCase):

    def test_lint_default(self):
        result = run_helm("lint", "--strict", CHART_DIR)
        self.assertEqual(result.returncode, 0,
                         f"helm lint --strict failed:\n{result.stdout}"
                         f"{result.stderr}")

    def test_lint_ci_files(self):
        for path in ci_files():
            with self.subTest(values=os.path.basename(path)):
                result = run_helm("lint", "--strict", CHART_DIR, "-f", path)
                self.assertEqual(
                    result.returncode, 0,
                    f"helm lint --strict -f {path} failed:\n"
                    f"{result.stdout}{result.stderr}")

    def test_ci_files_present(self):
        present = {os.path.basename(path) for path in ci_files()}
        for name in REQUIRED_CI_FILES:
            self.assertIn(name, present, f"ci/{name} is missing")


class ChartSecretsTest(ChartTestCase):

    def test_configmaps_no_secret(self):
        for name, docs in self.rendered.items():
            for configmap in of_kind(docs, "ConfigMap"):
                where = f"{name}: ConfigMap {configmap['metadata']['name']}"
                for key, value in (configmap.get("data") or {}).items():
                    self.assertIsNone(
                        SECRET_NAME_PATTERN.search(key),
                        f"{where}: key {key} names a secret")
                    if key == "PAYMENTO_BRIDGE_STORE":
                        self.assertTrue(
                            str(value).startswith("sqlite://"),
                            f"{where}: a non-SQLite store URL, which may "
                            "hold a password, is in a ConfigMap")
                    for pattern in SECRET_TEXT_PATTERNS:
                        self.assertIsNone(
                            pattern.search(str(value)),
                            f"{where}: {key} holds secret text")

    def test_annotations_no_secret(self):
        for name, docs in self.rendered.items():
            for where, key, value in all_annotations(docs):
                self.assertIsNone(
                    SECRET_NAME_PATTERN.search(key),
                    f"{name}: {where}: annotation {key} names a secret")
                for pattern in SECRET_TEXT_PATTERNS:
                    self.assertIsNone(
                        pattern.search(str(value)),
                        f"{name}: {where}: annotation {key} holds secret "
                        "text")

    def test_no_secret_resources(self):
        # Secrets are created outside the chart, so values files never hold
        # one.
        for name, docs in self.rendered.items():
            self.assertEqual(of_kind(docs, "Secret"), [],
                             f"{name}: the chart renders a Secret")

    def test_env_no_literal_secret(self):
        for name, workload in self.for_each_workload():
            for variable, item in env_by_name(
                    bridge_container(workload)).items():
                if variable.endswith("_FILE") or variable == "POD_IP":
                    continue
                if SECRET_NAME_PATTERN.search(variable):
                    self.assertNotIn("value", item,
                                     f"{name}: {variable} is a literal")

    def test_tokens_from_secrets(self):
        for name, workload in self.for_each_workload():
            for variable in ("PAYMENTO_BRIDGE_GRPC_TOKEN",
                             "PAYMENTO_BRIDGE_ADMIN_TOKEN",
                             "PAYMENTO_WEBHOOK_SECRET"):
                with self.subTest(values=name, variable=variable):
                    self.check_secret_from_file_or_ref(name, workload,
                                                       variable)

    def test_ipn_secret_from_file(self):
        docs = self.render_set("ingress-tls-values.yaml")
        workload = workloads(docs)[0]
        self.check_secret_from_file_or_ref("ingress-tls", workload,
                                           "PAYMENTO_IPN_SECRET")
        default = workloads(self.render_set("default"))[0]
        self.assertNotIn("PAYMENTO_IPN_SECRET_FILE",
                         env_by_name(bridge_container(default)),
                         "default: IPN is enabled without ipn.enabled")

    def test_existing_secret_used(self):
        docs = self.render_set("sqlite-existing-secret-values.yaml")
        volumes = secret_volumes(workloads(docs)[0])
        self.assertEqual(volumes["secrets"]["secretName"],
                         "paymento-bridge-credentials",
                         "secrets.existingSecret is not mounted")


class ChartPodTest(ChartTestCase):

    def test_probes_admin_port(self):
        for name, workload in self.for_each_workload():
            with self.subTest(values=name):
                self.check_probes(name, workload)

    def test_pod_security_context(self):
        for name, workload in self.for_each_workload():
            with self.subTest(values=name):
                self.check_pod_security(name, workload)

    def test_container_security_context(self):
        for name, workload in self.for_each_workload():
            with self.subTest(values=name):
                self.check_container_security(name, workload)

    def test_binds_pod_ip(self):
        for name, workload in self.for_each_workload():
            with self.subTest(values=name):
                self.check_pod_ip_bindings(name, workload)
        for name, docs in self.rendered.items():
            for configmap in of_kind(docs, "ConfigMap"):
                data = configmap.get("data") or {}
                for key in ("PAYMENTO_BRIDGE_GRPC_LISTEN",
                            "PAYMENTO_BRIDGE_ADMIN_LISTEN"):
                    self.assertNotIn(key, data,
                                     f"{name}: ConfigMap sets {key}")

    def test_service_links_off(self):
        for name, workload in self.for_each_workload():
            self.assertIs(pod_spec(workload).get("enableServiceLinks"), False,
                          f"{name}: Service links would inject "
                          "PAYMENTO_BRIDGE_* variables")

    def test_writable_paths(self):
        for name, workload in self.for_each_workload():
            mounts = {m["mountPath"] for m in
                      bridge_container(workload).get("volumeMounts", [])}
            self.assertIn("/tmp", mounts, f"{name}: /tmp is not writable")

    def test_grpc_tls_files(self):
        docs = self.render_set("grpc-tls-values.yaml")
        workload = workloads(docs)[0]
        env = env_by_name(bridge_container(workload))
        for variable in ("PAYMENTO_BRIDGE_GRPC_TLS_CERT",
                         "PAYMENTO_BRIDGE_GRPC_TLS_KEY",
                         "PAYMENTO_BRIDGE_GRPC_TLS_CLIENT_CA"):
            self.assertIn(variable, env, f"grpc-tls: {variable} is not set")
            source = secret_file_source(workload, env[variable]["value"])
            self.assertIsNotNone(source,
                                 f"grpc-tls: {variable} is not a file of a "
                                 "mounted Secret")
            self.assertEqual(source[1]["secretName"],
                             "paymento-bridge-grpc-tls",
                             f"grpc-tls: {variable} from the wrong Secret")


class ChartWorkloadTest(ChartTestCase):

    def check_sqlite(self, name, docs):
        self.assertEqual(of_kind(docs, "Deployment"), [],
                         f"{name}: SQLite mode renders a Deployment")
        statefulsets = of_kind(docs, "StatefulSet")
        self.assertEqual(len(statefulsets), 1,
                         f"{name}: SQLite mode needs one StatefulSet")
        spec = statefulsets[0]["spec"]
        self.assertEqual(spec.get("replicas"), 1,
                         f"{name}: StatefulSet replicas is not 1")
        templates = spec.get("volumeClaimTemplates") or []
        self.assertEqual([t["metadata"]["name"] for t in templates], ["data"],
                         f"{name}: no volumeClaimTemplate 'data'")
        mounts = {m["name"]: m["mountPath"] for m in
                  bridge_container(statefulsets[0])["volumeMounts"]}
        self.assertEqual(mounts.get("data"), DATA_DIR,
                         f"{name}: the claim is not mounted at {DATA_DIR}")
        self.assertEqual(of_kind(docs, "HorizontalPodAutoscaler"), [],
                         f"{name}: SQLite mode renders an HPA")

    def test_sqlite_statefulset(self):
        for name in ("default", "sqlite-existing-secret-values.yaml"):
            with self.subTest(values=name):
                self.check_sqlite(name, self.render_set(name))

    def test_postgres_deployment(self):
        name = "postgres-ha-values.yaml"
        docs = self.render_set(name)
        self.assertEqual(of_kind(docs, "StatefulSet"), [],
                         "postgres: renders a StatefulSet")
        self.assertEqual(of_kind(docs, "PersistentVolumeClaim"), [],
                         "postgres: renders a PersistentVolumeClaim")
        deployments = of_kind(docs, "Deployment")
        self.assertEqual(len(deployments), 1, "postgres: no Deployment")
        deployment = deployments[0]
        self.assertNotIn("volumeClaimTemplates", deployment["spec"])
        self.assertNotIn("replicas", deployment["spec"],
                         "postgres: replicas is set although the HPA owns it")
        volumes = pod_spec(deployment).get("volumes", [])
        self.assertFalse([v for v in volumes if "persistentVolumeClaim" in v],
                         "postgres: mounts a PersistentVolumeClaim")

    def test_postgres_hpa(self):
        docs = self.render_set("postgres-ha-values.yaml")
        hpas = of_kind(docs, "HorizontalPodAutoscaler")
        self.assertEqual(len(hpas), 1, "postgres: no HorizontalPodAutoscaler")
        spec = hpas[0]["spec"]
        self.assertEqual(spec["scaleTargetRef"]["kind"], "Deployment")
        self.assertEqual(spec["scaleTargetRef"]["name"], FULLNAME)
        self.assertEqual(spec["minReplicas"], 3, "postgres: minReplicas")

    def test_postgres_pdb(self):
        docs = self.render_set("postgres-ha-values.yaml")
        pdbs = of_kind(docs, "PodDisruptionBudget")
        self.assertEqual(len(pdbs), 1, "postgres: no PodDisruptionBudget")
        pod_labels = workloads(docs)[0]["spec"]["template"]["metadata"][
            "labels"]
        for key, value in pdbs[0]["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(pod_labels.get(key), value,
                             f"postgres: PDB selector {key} misses the pods")

    def test_postgres_replicas(self):
        docs = render([os.path.join(CI_DIR, "postgres-ha-values.yaml")],
                      ["autoscaling.enabled=false"])
        deployment = of_kind(docs, "Deployment")[0]
        self.assertEqual(deployment["spec"].get("replicas"), 3,
                         "postgres without HPA: replicas is not 3")

    def test_postgres_store_ref(self):
        docs = self.render_set("postgres-ha-values.yaml")
        env = env_by_name(bridge_container(workloads(docs)[0]))
        store = env.get("PAYMENTO_BRIDGE_STORE")
        self.assertIsNotNone(store, "postgres: PAYMENTO_BRIDGE_STORE unset")
        reference = store.get("valueFrom", {}).get("secretKeyRef")
        self.assertEqual(reference, {"name": "paymento-bridge-postgres",
                                     "key": "url"},
                         "postgres: the store URL is not from the Secret")
        for configmap in of_kind(docs, "ConfigMap"):
            self.assertNotIn("PAYMENTO_BRIDGE_STORE",
                             configmap.get("data") or {},
                             "postgres: a ConfigMap sets the store URL")

    def test_grpc_service_headless(self):
        for name, docs in self.rendered.items():
            services = {s["metadata"]["name"]: s
                        for s in of_kind(docs, "Service")}
            grpc = services.get(FULLNAME + "-grpc")
            self.assertIsNotNone(grpc, f"{name}: no gRPC Service")
            self.assertEqual(grpc["spec"].get("clusterIP"), "None",
                             f"{name}: the gRPC Service is not headless")


class ChartExposureTest(ChartTestCase):

    def test_ingress_paths(self):
        docs = self.render_set("ingress-tls-values.yaml")
        ingresses = of_kind(docs, "Ingress")
        self.assertEqual(len(ingresses), 1, "ingress: no Ingress")
        spec = ingresses[0]["spec"]
        for rule in spec["rules"]:
            paths = rule["http"]["paths"]
            self.assertEqual(sorted(p["path"] for p in paths),
                             ["/ipn", "/webhook"],
                             f"ingress: host {rule.get('host')} paths")
            for path in paths:
                self.assertEqual(path["pathType"], "Exact",
                                 f"ingress: {path['path']} is not Exact")
                backend = path["backend"]["service"]
                self.assertEqual(backend["name"], FULLNAME,
                                 f"ingress: {path['path']} backend")
                self.assertEqual(backend["port"].get("number"), 8080,
                                 f"ingress: {path['path']} backend port")

    def test_ingress_tls(self):
        docs = self.render_set("ingress-tls-values.yaml")
        spec = of_kind(docs, "Ingress")[0]["spec"]
        self.assertTrue(spec.get("tls"), "ingress: no TLS section")
        tls_hosts = {h for entry in spec["tls"] for h in entry["hosts"]}
        for rule in spec["rules"]:
            self.assertIn(rule["host"], tls_hosts,
                          f"ingress: host {rule['host']} has no TLS")

    def test_ingress_without_ipn(self):
        docs = render([os.path.join(CI_DIR, "ingress-tls-values.yaml")],
                      ["ipn.enabled=false"])
        paths = [p["path"] for rule in of_kind(docs, "Ingress")[0]["spec"][
            "rules"] for p in rule["http"]["paths"]]
        self.assertEqual(paths, ["/webhook"], "ingress without IPN paths")

    def test_network_policy(self):
        docs = self.render_set("networkpolicy-values.yaml")
        policies = of_kind(docs, "NetworkPolicy")
        self.assertEqual(len(policies), 1, "networkpolicy: none rendered")
        rules = {}
        for rule in policies[0]["spec"]["ingress"]:
            for port in rule["ports"]:
                rules[port["port"]] = rule["from"][0]
        self.assertEqual(sorted(rules), [8080, ADMIN_PORT, GRPC_PORT],
                         "networkpolicy: admitted ports")
        self.assertEqual(
            rules[8080]["namespaceSelector"]["matchLabels"],
            {"kubernetes.io/metadata.name": "ingress-nginx"},
            "networkpolicy: webhook source namespaces")
        self.assertEqual(
            rules[GRPC_PORT]["namespaceSelector"]["matchLabels"],
            {"payments.example.com/paymento-bridge-client": "true"},
            "networkpolicy: gRPC source namespaces")
        self.assertEqual(
            rules[ADMIN_PORT]["namespaceSelector"]["matchLabels"],
            {"kubernetes.io/metadata.name": "monitoring"},
            "networkpolicy: metrics source namespaces")

    def test_service_monitor(self):
        docs = self.render_set("monitoring-values.yaml")
        monitors = of_kind(docs, "ServiceMonitor")
        self.assertEqual(len(monitors), 1, "monitoring: no ServiceMonitor")
        endpoint = monitors[0]["spec"]["endpoints"][0]
        self.assertEqual(endpoint["port"], "admin")
        self.assertEqual(endpoint["path"], "/metrics")
        selector = monitors[0]["spec"]["selector"]["matchLabels"]
        admin = [s for s in of_kind(docs, "Service")
                 if all(s["metadata"]["labels"].get(k) == v
                        for k, v in selector.items())]
        self.assertEqual([s["metadata"]["name"] for s in admin],
                         [FULLNAME + "-admin"],
                         "monitoring: the selector must match the admin "
                         "Service only")

    def test_prometheus_rule(self):
        docs = self.render_set("monitoring-values.yaml")
        rules = of_kind(docs, "PrometheusRule")
        self.assertEqual(len(rules), 1, "monitoring: no PrometheusRule")
        alerts = {rule["alert"]: rule["expr"]
                  for group in rules[0]["spec"]["groups"]
                  for rule in group["rules"]}
        expected_metrics = {
            "PaymentoBridgeNoWebhooksAccepted":
                ("paymento_bridge_http_requests_total",
                 "paymento_bridge_webhooks_accepted_total"),
            "PaymentoBridgeInvalidSignatures":
                ("paymento_bridge_rejections_total",
                 'reason="invalid_signature"'),
            "PaymentoBridgeQuarantineGrowing":
                ("paymento_bridge_quarantined_requests_total",),
            "PaymentoBridgeSubscriptionBacklogGrowing":
                ("paymento_bridge_subscription_backlog_events",),
            "PaymentoBridgeStoreCommitSlow":
                ("paymento_bridge_store_commit_seconds_bucket",),
            "PaymentoBridgeNotReady": ("paymento_bridge_ready",),
        }
        self.assertEqual(sorted(alerts), sorted(expected_metrics),
                         "monitoring: alert names")
        for alert, metrics in expected_metrics.items():
            for metric in metrics:
                self.assertIn(metric, alerts[alert],
                              f"monitoring: {alert} does not use {metric}")

    def test_promtool_rules(self):
        if not PROMTOOL:
            self.skipTest("pass --promtool to check the alert rules")
        docs = self.render_set("monitoring-values.yaml")
        groups = of_kind(docs, "PrometheusRule")[0]["spec"]["groups"]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as rule_file:
            yaml.safe_dump({"groups": groups}, rule_file)
            rule_file.flush()
            result = subprocess.run(
                [PROMTOOL, "check", "rules",
                 rule_file.name],
                capture_output=True, text=True, check=False)
        self.assertEqual(result.returncode, 0,
                         f"promtool check rules failed:\n{result.stdout}"
                         f"{result.stderr}")


class ChartValidationTest(unittest.TestCase):

    def assert_render_fails(self, set_values, expected_message):
        args = ["template", RELEASE, CHART_DIR]
        for assignment in set_values:
            args += ["--set", assignment]
        result = run_helm(*args)
        self.assertNotEqual(result.returncode, 0,
                            f"helm template {set_values} succeeded")
        self.assertIn(expected_message, result.stderr,
                      f"helm template {set_values}: unexpected error")

    def test_schema_rejects_string(self):
        self.assert_render_fails(["replicaCount=three"], "replicaCount")
        self.assert_render_fails(["replicaCount=three"], "integer")

    def test_schema_rejects_bad_values(self):
        cases = {
            "store.type=mysql": "store.type",
            "ingress.enabled=yes": "ingress.enabled",
            "config.retention=30days": "config.retention",
            "containerPorts.grpc=70000": "containerPorts.grpc",
            "replicas=3": "replicas",
            "config.logLevel=verbose": "config.logLevel",
        }
        for assignment, field in cases.items():
            with self.subTest(assignment=assignment):
                self.assert_render_fails([assignment], field)

    def test_sqlite_rejects_replicas(self):
        self.assert_render_fails(["replicaCount=3"], "store.type=postgres")

    def test_sqlite_rejects_hpa(self):
        self.assert_render_fails(["autoscaling.enabled=true"],
                                 "store.type=postgres")

    def test_rejects_open_grpc(self):
        self.assert_render_fails(["grpc.tokens.enabled=false"],
                                 "without authentication")

    def test_allows_mtls_without_tokens(self):
        docs = render(set_values=["grpc.tokens.enabled=false",
                                  "grpc.tls.enabled=true",
                                  "grpc.tls.existingSecret=grpc-tls",
                                  "grpc.tls.clientCA=true"])
        env = env_by_name(bridge_container(workloads(docs)[0]))
        self.assertIn("PAYMENTO_BRIDGE_GRPC_TLS_CLIENT_CA", env)
        self.assertNotIn("PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", env)

    def test_values_keys_commented(self):
        # Every key of values.yaml has a comment line right above it. Label
        # names inside a selector (they contain "." or "/") are data.
        with open(os.path.join(CHART_DIR, "values.yaml")) as stream:
            lines = stream.read().splitlines()
        key_line = re.compile(r"^\s*[A-Za-z][\w-]*:(\s|$)")
        uncommented = []
        for number, line in enumerate(lines, start=1):
            if not key_line.match(line):
                continue
            previous = lines[number - 2].strip() if number > 1 else ""
            if not previous.startswith("#"):
                uncommented.append(f"line {number}: {line.strip()}")
        self.assertEqual(uncommented, [],
                         "values.yaml keys without a comment above them")


class ManifestsTest(PodChecks, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.docs = load_manifests()
        cls.statefulset = of_kind(cls.docs, "StatefulSet")[0]

    def test_kustomization_files(self):
        with open(os.path.join(MANIFESTS_DIR, "kustomization.yaml")) as f:
            kustomization = yaml.safe_load(f)
        for name in kustomization["resources"]:
            self.assertTrue(os.path.isfile(os.path.join(MANIFESTS_DIR, name)),
                            f"kustomization lists missing {name}")
        self.assertNotIn("secret.example.yaml", kustomization["resources"],
                         "the placeholder Secret would be applied")

    def test_namespace_less(self):
        for doc in self.docs:
            self.assertNotIn("namespace", doc["metadata"],
                             f"{doc['kind']}/{doc['metadata']['name']} "
                             "sets a namespace")

    def test_secret_placeholders(self):
        secrets = of_kind(self.docs, "Secret")
        self.assertEqual(len(secrets), 1, "no Secret example")
        for key, value in secrets[0].get("stringData", {}).items():
            self.assertTrue(value.startswith("REPLACE_ME_"),
                            f"Secret example key {key} is not a placeholder")
        self.assertNotIn("data", secrets[0], "Secret example has data")

    def test_manifest_statefulset(self):
        spec = self.statefulset["spec"]
        self.assertEqual(spec["replicas"], 1)
        self.assertEqual(
            [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]],
            ["data"])

    def test_manifest_probes(self):
        self.check_probes("deploy/kubernetes", self.statefulset)

    def test_manifest_pod_security(self):
        self.check_pod_security("deploy/kubernetes", self.statefulset)

    def test_manifest_container_security(self):
        self.check_container_security("deploy/kubernetes", self.statefulset)

    def test_manifest_binds_pod_ip(self):
        self.check_pod_ip_bindings("deploy/kubernetes", self.statefulset)

    def test_manifest_secrets(self):
        for variable in ("PAYMENTO_BRIDGE_GRPC_TOKEN",
                         "PAYMENTO_BRIDGE_ADMIN_TOKEN",
                         "PAYMENTO_WEBHOOK_SECRET"):
            with self.subTest(variable=variable):
                self.check_secret_from_file_or_ref(
                    "deploy/kubernetes", self.statefulset, variable)

    def test_manifest_grpc_headless(self):
        services = {s["metadata"]["name"]: s
                    for s in of_kind(self.docs, "Service")}
        self.assertEqual(
            services["paymento-bridge-grpc"]["spec"].get("clusterIP"),
            "None", "the gRPC Service is not headless")


def main():
    global HELM, PROMTOOL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--helm", default=os.environ.get("HELM", "helm"),
                        help="path of the helm binary (default: helm)")
    parser.add_argument("--promtool",
                        help="path of promtool; checks the alert rules")
    args, unittest_args = parser.parse_known_args()
    HELM = args.helm
    PROMTOOL = args.promtool
    if shutil.which(HELM) is None:
        print(f"error: helm not found at {HELM!r}: pass --helm PATH "
              "(scripts/fetch-helm.sh DEST_DIR fetches one)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    program = unittest.main(argv=[sys.argv[0], *unittest_args], exit=False,
                            verbosity=2)
    result = program.result
    # Count test methods, so a method with failing subtests counts once.
    failed_ids = {getattr(test, "test_case", test).id()
                  for test, _ in result.failures + result.errors}
    skipped = len(result.skipped)
    passed = result.testsRun - len(failed_ids) - skipped
    summary = f"{passed} passed, {len(failed_ids)} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    return 1 if failed_ids or not result.testsRun else 0


if __name__ == "__main__":
    sys.exit(main())
