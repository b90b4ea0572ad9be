#!/usr/bin/env python3
"""Checks of deploy/ (ctest -L deploy; each subcommand is one test).

  check.py lint                 helm lint --strict, default and production values
  check.py template OUT         helm template: default, production, scheduler API versions, the
                                render-time refusals; writes OUT/{default,production}.yaml and
                                OUT/*-config.yaml (tug's config as the chart renders it)
  check.py dry-run              the chart rendered with the real API server's capabilities
                                (helm template --validate) and applied with
                                kubectl apply --server-side --dry-run=server to the test
                                kube-apiserver (scripts/kube-testenv, v1.20)
  check.py scheduler            KubeSchedulerConfiguration files against deploy/scheduler/schema
  check.py dashboard            the Grafana dashboard: JSON, panels, every metric name exists
  check.py dockerfiles          the Dockerfiles against the hadolint rules we rely on

Tools: helm and kubectl from $TUG_HELM / $TUG_KUBECTL or ~/.cache/tugboat/bin (scripts/setup.sh
puts them there). Missing tools fail the test with what to run; nothing is skipped.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "tugboat")
PROD = os.path.join(ROOT, "deploy", "helm", "values-production.yaml")
CACHE = os.environ.get("TUG_CACHE", os.path.expanduser("~/.cache/tugboat"))

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


def tool(name):
    path = os.environ.get("TUG_" + name.upper()) or os.path.join(CACHE, "bin", name)
    if not os.access(path, os.X_OK):
        sys.exit(f"{name} not found at {path}; run scripts/setup.sh (it unpacks helm and kubectl "
                 f"into {CACHE}/bin)")
    return path


def run(argv, check_rc=True, env=None, input_text=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env, input=input_text)
    if check_rc and p.returncode != 0:
        fail(f"{' '.join(argv[:4])}... exited {p.returncode}:\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return p


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def render(extra=(), name="tugboat", namespace="tugboat"):
    p = run([tool("helm"), "template", name, CHART, "-n", namespace, *extra])
    return p.stdout if p.returncode == 0 else None


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def config_of(objs):
    cms = [o for o in by_kind(objs, "ConfigMap") if "config.yaml" in o.get("data", {})
           and "KubeSchedulerConfiguration" not in o["data"]["config.yaml"]]
    return yaml.safe_load(cms[0]["data"]["config.yaml"]) if len(cms) == 1 else None


# ---------------------------------------------------------------------------------------------
def cmd_lint(_args):
    helm = tool("helm")
    for label, extra in [("default values", []), ("production values", ["-f", PROD]),
                         ("scheduler and pre-puller on",
                          ["--set", "scheduler.enabled=true", "--set", "prePuller.enabled=true"]),
                         ("one replica on SQLite",
                          ["--set", "replicaCount=1", "--set", "database.existingSecret="])]:
        p = run([helm, "lint", "--strict", CHART, *extra], check_rc=False)
        check(p.returncode == 0, f"helm lint --strict, {label}" +
              ("" if p.returncode == 0 else ":\n" + p.stdout + p.stderr))


# ---------------------------------------------------------------------------------------------
def cmd_template(args):
    out = args[0] if args else tempfile.mkdtemp()
    os.makedirs(out, exist_ok=True)

    text = render()
    if text is None:
        return
    open(os.path.join(out, "default.yaml"), "w").write(text)
    objs = docs(text)
    kinds = sorted({o["kind"] for o in objs})
    for k in ["ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget", "Role",
              "RoleBinding", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]:
        check(k in kinds, f"default values render a {k}")
    check("ServiceMonitor" not in kinds,
          "no ServiceMonitor when the cluster does not serve monitoring.coreos.com/v1")
    dep = by_kind(objs, "Deployment")[0]
    check(dep["spec"]["replicas"] >= 2, "default Deployment has at least 2 replicas")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz")
    check(c.get("resources", {}).get("requests"), "server resources set")
    env = {e["name"]: e for e in c.get("env", [])}
    check("secretKeyRef" in env.get("TUG_DATABASE_URL", {}).get("valueFrom", {}),
          "database URL comes from a Secret reference")
    cfg = config_of(objs)
    open(os.path.join(out, "default-config.yaml"), "w").write(yaml.safe_dump(cfg))
    check(cfg["engine"]["driver"] == "kubernetes" and cfg["clusters"][0]["in_cluster"] is True,
          "config: kubernetes engine, in-cluster credentials")
    check("url" not in cfg.get("store", {}), "config: no database URL in the ConfigMap")
    check(cfg["clusters"][0]["namespace"] == "batch", "config: job namespace from jobNamespaces")

    # RBAC exactly as the engines call the API (no wildcard, no secrets).
    for r in by_kind(objs, "Role") + by_kind(objs, "ClusterRole"):
        for rule in r["rules"]:
            check("*" not in rule["verbs"] and "*" not in rule["resources"],
                  f"{r['kind']} {r['metadata']['name']}: no wildcards")
            check("secrets" not in rule["resources"], f"{r['metadata']['name']}: no secrets")
    server_role = [r for r in by_kind(objs, "Role") if r["metadata"]["name"].endswith("-server")][0]
    grants = {(g, res): sorted(rule["verbs"]) for rule in server_role["rules"]
              for g in rule["apiGroups"] for res in rule["resources"]}
    check(grants == {("", "pods"): sorted(["create", "get", "list", "watch", "delete"]),
                     ("", "pods/log"): ["get"], ("", "events"): ["list", "watch"],
                     ("metrics.k8s.io", "pods"): ["list"]},
          f"server Role is what the engine calls: {grants}")

    # Production values: three replicas, ingress paths, scheduler and pre-puller.
    text = render(["-f", PROD])
    if text is None:
        return
    open(os.path.join(out, "production.yaml"), "w").write(text)
    objs = docs(text)
    cfg = config_of(objs)
    open(os.path.join(out, "production-config.yaml"), "w").write(yaml.safe_dump(cfg))
    check(cfg["kubernetes"]["scheduler_name"] == "tugboat-binpack",
          "production: job pods go to the tugboat-binpack scheduler")
    check([x["name"] for x in cfg["clusters"]] == ["batch", "batch-critical"],
          "production: one cluster entry per job namespace")
    check(cfg["clusters"][1]["pending_timeout"] == "20m", "production: per-namespace settings")
    check(cfg["retention"] == "30d" and cfg["dispatcher"]["launch_workers"] == 16,
          "production: config block merged over the derived settings")
    ing = by_kind(objs, "Ingress")
    paths = sorted(p["path"] for p in ing[0]["spec"]["rules"][0]["http"]["paths"]) if ing else []
    check(paths == ["/", "/api/", "/runs/"], f"production Ingress paths API, UI, Spark UI: {paths}")
    sched = [o for o in by_kind(objs, "Deployment") if o["metadata"]["name"].endswith("-scheduler")]
    check(len(sched) == 1, "production: a second scheduler Deployment")
    check(len(by_kind(objs, "DaemonSet")) == 1, "production: the image pre-puller DaemonSet")
    ds = by_kind(objs, "DaemonSet")[0] if by_kind(objs, "DaemonSet") else {"spec": {"template": {"spec": {}}}}
    images = [i["image"] for i in ds["spec"]["template"]["spec"].get("initContainers", [])]
    check(len(images) == 3 and all(":3." in i for i in images),
          f"pre-puller pulls the three Spark images: {images}")
    check(len([o for o in by_kind(objs, "Namespace")]) == 2, "production: job namespaces created")

    # The scheduler config the chart renders, per API version (validated by `check.py scheduler`).
    for api, kube in [("v1", "1.30.0"), ("v1beta2", "1.23.0"), ("v1beta1", "1.20.2")]:
        text = render(["--set", "scheduler.enabled=true", "--kube-version", kube])
        if text is None:
            continue
        cm = [o for o in by_kind(docs(text), "ConfigMap") if o["metadata"]["name"].endswith("-scheduler")]
        sc = yaml.safe_load(cm[0]["data"]["config.yaml"])
        check(sc["apiVersion"] == "kubescheduler.config.k8s.io/" + api,
              f"Kubernetes {kube}: scheduler config {sc['apiVersion']}")
        open(os.path.join(out, f"scheduler-{api}.yaml"), "w").write(yaml.safe_dump(sc))

    # Render-time refusals, with messages that say what to do.
    helm = tool("helm")
    for extra, want in [
        (["--set", "database.existingSecret="], "replicaCount 2 needs PostgreSQL"),
        (["--set", "persistence.accessModes={ReadWriteOnce}"], "needs persistence.accessModes [ReadWriteMany]"),
        (["--set", "persistence.enabled=false"], "needs persistence.enabled"),
        (["--set", "spark.uiAccess=proxy"], "spark.uiAccess \"proxy\" must be direct or apiserver"),
    ]:
        p = run([helm, "template", "t", CHART, *extra], check_rc=False)
        check(p.returncode != 0 and want in p.stderr,
              f"render refused ({' '.join(extra)}): {p.stderr.strip()[:160]}")
    one = render(["--set", "replicaCount=1", "--set", "database.existingSecret="])
    if one is not None:
        objs = docs(one)
        check(not by_kind(objs, "PodDisruptionBudget"), "one replica: no PDB (it would block drains)")
        check("store" not in config_of(objs), "one replica without a database: SQLite")


# ---------------------------------------------------------------------------------------------
SERVICE_MONITOR_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def cmd_dry_run(_args):
    helm, kubectl = tool("helm"), tool("kubectl")
    testenv = os.path.join(ROOT, "scripts", "kube-testenv")
    d = tempfile.mkdtemp(prefix="tug-deploy-")
    up = run([testenv, "up", d])
    if up.returncode != 0:
        return
    try:
        env = dict(os.environ, KUBECONFIG=os.path.join(d, "kubeconfig"))
        k = lambda *a, **kw: run([kubectl, *a], env=env, **kw)
        server = json.loads(k("version", "-o", "json", check_rc=False).stdout)["serverVersion"]
        ok(f"test kube-apiserver {server['gitVersion']}")
        for ns in ["tugboat", "batch"]:
            k("create", "namespace", ns)
        # Prometheus Operator's CRD, so the chart's ServiceMonitor gate opens (a stand-in with a
        # schema-less spec: the apply checks kind, version and metadata).
        k("apply", "-f", "-", input_text=SERVICE_MONITOR_CRD)
        k("wait", "--for=condition=Established", "--timeout=60s",
          "crd/servicemonitors.monitoring.coreos.com")
        for label, extra in [
            ("default values", []),
            ("production values", ["-f", PROD, "--set", "createJobNamespaces=false",
                                   "--set", "jobNamespaces[0].name=batch",
                                   "--set", "jobNamespaces[1].name=tugboat"]),
            ("scheduler and pre-puller", ["--set", "scheduler.enabled=true",
                                          "--set", "prePuller.enabled=true",
                                          "--set", "ingress.enabled=true",
                                          "--set", "spark.uiAccess=apiserver",
                                          "--set", "jobs.pruneEvents=true"]),
        ]:
            # --validate: rendered with what this API server serves (policy/v1beta1 PDB on
            # 1.20, the ServiceMonitor CRD), and checked against its OpenAPI schema.
            p = run([helm, "template", "tugboat", CHART, "-n", "tugboat", "--validate", *extra],
                    env=env)
            if p.returncode != 0:
                continue
            objs = docs(p.stdout)
            pdb = by_kind(objs, "PodDisruptionBudget")
            check(pdb and pdb[0]["apiVersion"] == "policy/v1beta1",
                  f"{label}: PDB version picked from the 1.20 server (policy/v1beta1)")
            check(len(by_kind(objs, "ServiceMonitor")) == 1,
                  f"{label}: ServiceMonitor rendered once its CRD is served")
            if "scheduler" in label:
                sc = [o for o in by_kind(objs, "ConfigMap") if o["metadata"]["name"].endswith("-scheduler")]
                check(sc and "kubescheduler.config.k8s.io/v1beta1" in sc[0]["data"]["config.yaml"],
                      f"{label}: scheduler config v1beta1 for a 1.20 cluster")
            a = run([kubectl, "apply", "--server-side", "--dry-run=server", "-f", "-"], env=env,
                    input_text=p.stdout)
            applied = [l for l in a.stdout.splitlines() if "(server dry run)" in l]
            check(a.returncode == 0 and len(applied) == len(objs),
                  f"{label}: {len(applied)}/{len(objs)} objects accepted by kubectl apply "
                  f"--server-side --dry-run=server")
        # The check has teeth: an unknown field and an API this server does not serve fail.
        bad = ("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: batch}\n"
               "spec: {bogus: 1, ports: [{port: 80}]}\n")
        a = run([kubectl, "apply", "--server-side", "--dry-run=server", "-f", "-"], env=env,
                input_text=bad, check_rc=False)
        check(a.returncode != 0 and "bogus" in a.stderr, "an unknown field is refused")
        pdb = ("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x, namespace: batch}\n"
               "spec: {minAvailable: 1, selector: {matchLabels: {a: b}}}\n")
        a = run([kubectl, "apply", "--server-side", "--dry-run=server", "-f", "-"], env=env,
                input_text=pdb, check_rc=False)
        check(a.returncode != 0, "policy/v1 PDB is refused by the 1.20 server (why the chart picks)")
    finally:
        run([testenv, "down", d], check_rc=False)
        subprocess.run(["rm", "-rf", d])


# ---------------------------------------------------------------------------------------------
def scheduler_semantics(sc, where):
    """Beyond the schema: the bin-packing profile is there and packs."""
    api = sc["apiVersion"].rsplit("/", 1)[1]
    profiles = {p["schedulerName"]: p for p in sc.get("profiles", [])}
    check(len(profiles) == len(sc.get("profiles", [])), f"{where}: scheduler names unique")
    p = profiles.get("tugboat-binpack")
    if not check(p is not None, f"{where}: profile tugboat-binpack"):
        return
    args = {c["name"]: c.get("args", {}) for c in p.get("pluginConfig", [])}
    disabled = {x["name"] for x in p.get("plugins", {}).get("score", {}).get("disabled", [])}
    if api == "v1beta1":
        enabled = {x["name"] for x in p.get("plugins", {}).get("score", {}).get("enabled", [])}
        check("NodeResourcesMostAllocated" in enabled and "NodeResourcesLeastAllocated" in disabled,
              f"{where}: NodeResourcesMostAllocated instead of LeastAllocated")
        res = args.get("NodeResourcesMostAllocated", {}).get("resources", [])
    else:
        st = args.get("NodeResourcesFit", {}).get("scoringStrategy", {})
        check(st.get("type") == "MostAllocated", f"{where}: NodeResourcesFit scoringStrategy MostAllocated")
        res = st.get("resources", [])
    check(sorted(r["name"] for r in res) == ["cpu", "memory"] and all(r["weight"] > 0 for r in res),
          f"{where}: cpu and memory weighted")
    check("NodeResourcesBalancedAllocation" in disabled,
          f"{where}: balanced allocation (which spreads) off in the packing profile")


def cmd_scheduler(args):
    import jsonschema
    schema_dir = os.path.join(ROOT, "deploy", "scheduler", "schema")
    schemas = {}
    for f in os.listdir(schema_dir):
        s = json.load(open(os.path.join(schema_dir, f)))
        jsonschema.Draft7Validator.check_schema(s)
        schemas[s["properties"]["apiVersion"]["const"]] = s
    ok(f"schemas: {sorted(schemas)}")
    files = [os.path.join(ROOT, "deploy", "scheduler", "kube-scheduler-config.yaml")]
    files += [os.path.join(args[0], f) for f in sorted(os.listdir(args[0]))
              if f.startswith("scheduler-")] if args else []
    check(len(files) >= 4, f"scheduler configs to check: {len(files)} (the file and 3 renders)")
    for path in files:
        sc = yaml.safe_load(open(path))
        where = os.path.relpath(path, ROOT) if path.startswith(ROOT) else os.path.basename(path)
        schema = schemas.get(sc.get("apiVersion"))
        if not check(schema is not None, f"{where}: known apiVersion {sc.get('apiVersion')}"):
            continue
        errs = sorted(jsonschema.Draft7Validator(schema).iter_errors(sc), key=str)
        check(not errs, f"{where}: valid {sc['apiVersion']}" +
              "".join(f"\n  {list(e.absolute_path)}: {e.message}" for e in errs))
        scheduler_semantics(sc, where)
    # The schema has teeth: a misspelt field, an unknown plugin and a bad strategy are refused.
    base = yaml.safe_load(open(files[0]))
    v = jsonschema.Draft7Validator(schemas[base["apiVersion"]])
    bad = json.loads(json.dumps(base))
    bad["profiles"][1]["pluginConfig"][0]["args"]["scoringStrategy"]["type"] = "MostAlocated"
    check(any(True for _ in v.iter_errors(bad)), "a misspelt scoring strategy is refused")
    bad = json.loads(json.dumps(base))
    bad["profiles"][1]["plugins"]["score"]["disabled"].append({"name": "NodeResourcesBalanced"})
    check(any(True for _ in v.iter_errors(bad)), "an unknown plugin name is refused")
    bad = json.loads(json.dumps(base))
    bad["profiles"][0]["schedulerNmae"] = "x"
    check(any(True for _ in v.iter_errors(bad)), "an unknown field is refused")


# ---------------------------------------------------------------------------------------------
def source_metric_names():
    """Every metric name tug exposes, from the code that registers it."""
    names = set()
    pats = [r'Add(?:Counter|Histogram)\(\s*"(tug_[a-z0-9_]+)"', r'# TYPE (tug_[a-z0-9_]+) ',
            r'AppendSample\(out, "(tug_[a-z0-9_]+)"', r'\{"(tug_[a-z0-9_]+_total)",']
    hist = set()
    for d, _, fs in os.walk(os.path.join(ROOT, "src")):
        for f in fs:
            if not f.endswith((".cpp", ".h")) or f.endswith("_test.cpp"):
                continue
            text = open(os.path.join(d, f), encoding="utf-8").read()
            for p in pats:
                names.update(re.findall(p, text))
            hist.update(re.findall(r'AddHistogram\(\s*"(tug_[a-z0-9_]+)"', text))
    for h in hist:
        names.update({h + "_bucket", h + "_sum", h + "_count"})
    return names


# cAdvisor's (kubelet) and kube-state-metrics' series the per-run panels use.
EXTERNAL_METRICS = {"container_memory_working_set_bytes", "container_cpu_usage_seconds_total",
                    "kube_pod_container_resource_limits", "kube_pod_container_resource_requests"}
PROMQL_WORDS = {"sum", "by", "rate", "irate", "increase", "histogram_quantile", "max", "min",
                "avg", "count", "without", "le", "on", "ignoring", "group_left", "topk", "bool",
                "and", "or", "unless", "clamp_min", "label_replace", "offset", "delta", "vector",
                "sort_desc", "abs", "time"}


def metric_names_in(expr):
    """The metric names a PromQL expression reads: identifiers outside strings, label matchers,
    range selectors and grouping clauses that are not PromQL's own words."""
    stripped = re.sub(r'"[^"]*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right) \([^)]*\)", "", stripped)
    return [i for i in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b", stripped)
            if i not in PROMQL_WORDS]


def cmd_dashboard(_args):
    # The name check itself: what it must and must not take for a metric.
    check(metric_names_in('histogram_quantile(0.99, sum by (le) (rate(tug_x_bucket{a="b c"}[5m])))')
          == ["tug_x_bucket"], "metric names are read out of an expression")
    check("tug_not_exported_total" not in source_metric_names(), "an unknown name is not taken")
    path = os.path.join(ROOT, "deploy", "grafana", "tugboat-dashboard.json")
    d = json.load(open(path))
    ok(f"{os.path.relpath(path, ROOT)} parses")
    known = source_metric_names()
    check(len(known) > 15, f"{len(known)} metric names found in src/")
    panels = []
    for p in d.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))
    targets = [(p, t) for p in panels for t in p.get("targets", [])]
    check(len(targets) >= 8, f"{len(targets)} queries in {len(panels)} panels")
    ids = [p["id"] for p in panels]
    check(len(ids) == len(set(ids)), "panel ids unique")
    var_names = {v["name"] for v in d.get("templating", {}).get("list", [])}
    used = set()
    for p, t in targets:
        expr = t.get("expr", "")
        if not check(expr, f"panel {p['title']!r}: has an expr"):
            continue
        check(t.get("datasource", p.get("datasource", {})).get("uid") == "${datasource}",
              f"panel {p['title']!r}: uses the datasource variable")
        for v in re.findall(r"\$(\w+)", expr):
            check(v in var_names or v.startswith("__"), f"panel {p['title']!r}: variable ${v} defined")
        for ident in metric_names_in(expr):
            if ident.startswith("tug_"):
                check(ident in known, f"panel {p['title']!r}: {ident} is exported by tug")
                used.add(ident)
            else:
                check(ident in EXTERNAL_METRICS, f"panel {p['title']!r}: {ident} is a known "
                      f"cAdvisor/kube-state-metrics series")
    # Every expression parsed by Prometheus's own parser (promtool, from Debian's prometheus),
    # Grafana's variables replaced by what they expand to.
    promtool = subprocess.run(["sh", "-c", "command -v promtool"], capture_output=True, text=True)
    if check(promtool.returncode == 0, "promtool found (scripts/setup.sh installs prometheus)"):
        subst = {"$__rate_interval": "5m", "$__range": "6h", "$job": ".*", "$namespace": "batch",
                 "$run": "01jrun"}
        rules = []
        for i, (p, t) in enumerate(targets):
            expr = t.get("expr", "")
            for k in sorted(subst, key=len, reverse=True):
                expr = expr.replace(k, subst[k])
            rules.append({"record": f"tugboat:panel_{i}", "expr": expr})
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        p = run([promtool.stdout.strip(), "check", "rules", f.name], check_rc=False)
        os.unlink(f.name)
        check(p.returncode == 0, f"promtool parses all {len(rules)} expressions" +
              ("" if p.returncode == 0 else ":\n" + p.stdout + p.stderr))
    for must in ["tug_queue_depth", "tug_attempts_launched_total", "tug_attempts_failed_total",
                 "tug_retry_decisions_total", "tug_attempts_ended_total"]:
        check(must in used, f"dashboard shows {must}")
    ok(f"metrics used: {sorted(used)}")


# ---------------------------------------------------------------------------------------------
def cmd_dockerfiles(_args):
    d = os.path.join(ROOT, "deploy", "docker")
    files = sorted(f for f in os.listdir(d) if f.endswith("Dockerfile"))
    check(len(files) >= 3, f"Dockerfiles: {files}")
    for f in files:
        text = open(os.path.join(d, f)).read()
        # Join continuation lines: one instruction per line.
        lines = [l for l in re.sub(r"\\\n", " ", text).splitlines()
                 if l.strip() and not l.lstrip().startswith("#")]
        instr = [(l.split()[0].upper(), l) for l in lines]
        froms = [l for i, l in instr if i == "FROM"]
        check(all(":" in l.split()[1] or l.split()[1].startswith("$") for l in froms)
              and not any(l.split()[1].endswith(":latest") for l in froms),
              f"{f}: base images tagged, never latest (DL3006/DL3007)")
        for i, l in instr:
            if i != "RUN":
                continue
            if "apt-get install" in l:
                check("--no-install-recommends" in l, f"{f}: apt-get install --no-install-recommends (DL3015)")
                check("rm -rf /var/lib/apt/lists/*" in l, f"{f}: apt lists removed in the same RUN (DL3009)")
                check(re.search(r"apt-get install[^&]*-y", l) is not None, f"{f}: apt-get install -y (DL3014)")
            check("apt-get upgrade" not in l and "dist-upgrade" not in l, f"{f}: no apt-get upgrade (DL3005)")
            check(not re.search(r"(^|&&|;)\s*cd\s", l.split(None, 1)[1]), f"{f}: WORKDIR, not cd (DL3003)")
            check("sudo " not in l, f"{f}: no sudo (DL3004)")
            check(not re.search(r"\bwget\b", l) or "--progress" in l, f"{f}: wget --progress (DL3047)")
        has_pipe = any(i == "RUN" and re.search(r"[^|]\|[^|]", l) for i, l in instr)
        if has_pipe:
            check(any(i == "SHELL" and "pipefail" in l for i, l in instr),
                  f"{f}: SHELL with -o pipefail before piped RUNs (DL4006)")
        check(not any(i == "ADD" and not re.search(r"https?://", l) for i, l in instr),
              f"{f}: COPY, not ADD, for local files (DL3020)")
        check(not any(i == "MAINTAINER" for i, _ in instr), f"{f}: no MAINTAINER (DL4000)")
        users = [l.split()[1] for i, l in instr if i == "USER"]
        check(users and users[-1] not in ("root", "0"), f"{f}: runs as a non-root user (DL3002)")
        workdirs = [l.split()[1] for i, l in instr if i == "WORKDIR"]
        check(all(w.startswith("/") or w.startswith("$") for w in workdirs), f"{f}: absolute WORKDIR (DL3000)")
    hadolint = subprocess.run(["sh", "-c", "command -v hadolint"], capture_output=True, text=True)
    if hadolint.returncode == 0:
        for f in files:
            p = run([hadolint.stdout.strip(), os.path.join(d, f)], check_rc=False)
            check(p.returncode == 0, f"hadolint {f}" + ("" if p.returncode == 0 else ":\n" + p.stdout))
    else:
        ok("hadolint is not installed: the rules above stand in for it")


COMMANDS = {"lint": cmd_lint, "template": cmd_template, "dry-run": cmd_dry_run,
            "scheduler": cmd_scheduler, "dashboard": cmd_dashboard, "dockerfiles": cmd_dockerfiles}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)
