#!/usr/bin/env python3
"""A fake emr-containers service (EMR on EKS, API 2020-10-01) for Tugboat's integration tests.

Why: moto 5 implements the job-run calls but its job runs start RUNNING and stay there until
cancelled, ignore clientToken and never run anything, so an engine cannot be seen to succeed,
fail, time out or report logs against it. This fake fills exactly that gap and nothing more.

Built from AWS's published service model (botocore's data/emr-containers/2020-10-01/
service-2.json, the file AWS publishes for its SDKs), never from guesses:
  - routes: every operation's http.method + requestUri; those not implemented answer 501;
  - requests: each operation's input shape, members taken from the URI, query string, headers
    and JSON body as the model places them, validated recursively (required members, types,
    string length and pattern with Smithy's unanchored semantics, enums, list and map bounds;
    members the model does not have are refused, stricter than AWS);
  - errors: the shapes the model declares for the operation, with their HTTP status
    (ValidationException 400, ResourceNotFoundException 400 in this model,
    InternalServerException 500), the name in x-amzn-ErrorType and {"message": ...} as body
    (REST-JSON);
  - responses: the output shapes' member names, timestamps as ISO 8601 (the model's
    timestampFormat).
Every request is SigV4-verified against --access-key/--secret-key (service emr-containers).

The job-run state machine (the EMR on EKS guide's "Job run states"): StartJobRun creates a run
PENDING; the fake "cluster" moves it to SUBMITTED, starts the driver (a local process: only
local:// entry points run, with entryPointArguments as argv and spark.kubernetes.driverEnv.*
as its environment) and marks it RUNNING; exit 0 ends COMPLETED, any other exit FAILED with
failureReason USER_ERROR. CancelJobRun: PENDING/SUBMITTED end CANCELLED at once, RUNNING goes
CANCEL_PENDING, the process group gets SIGTERM (SIGKILL after a grace), then CANCELLED; a run
that has ended, or is being cancelled, is refused with ValidationException (the only client
error the model declares for CancelJobRun). clientToken makes StartJobRun idempotent per
virtual cluster. Before a run's final state is set, its logs are uploaded as EMR's log agent
lays them out under s3MonitoringConfiguration.logUri (--s3-endpoint; moto's S3 in the tests):
  <logUri>/<vc>/jobs/<id>/containers/<id>-runner/stdout.gz            (the job runner)
  <logUri>/<vc>/jobs/<id>/containers/spark-<id>/spark-<id>-driver/{stdout,stderr}.gz
The job runner's log ends with Spark 3's "Container final statuses:" block for the driver
(KubernetesUtils.containersDescription), where the real one writes the driver's exit code.
The wording of stateDetails is the fake's own: AWS publishes no samples.

Test controls (unsigned, under /_fake/):
  POST /_fake/virtualclusters/<vc>/unavailable {"unavailable": true}: later runs on it fail
       at submission with CLUSTER_UNAVAILABLE;
  POST /_fake/jobruns/<id>/fail {"failureReason": ..., "stateDetails": ...}: the run (its
       process killed if it runs) ends FAILED with that reason.

Usage: fake_emr_containers.py --port-file F --access-key AK --secret-key SK
       [--region us-east-1] [--s3-endpoint URL] [--submit-delay 0.05]
S3 credentials for the log upload: FAKE_EMR_S3_ACCESS_KEY_ID / FAKE_EMR_S3_SECRET_ACCESS_KEY.
"""

import argparse
import datetime
import gzip
import hashlib
import hmac
import io
import json
import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"


def model_path():
    import botocore  # moto depends on it; scripts/setup.sh installs moto[server]

    base = os.path.join(os.path.dirname(botocore.__file__), "data", "emr-containers", "2020-10-01")
    for name in ("service-2.json.gz", "service-2.json"):
        p = os.path.join(base, name)
        if os.path.exists(p):
            return p
    raise SystemExit("no emr-containers service model under " + base)


def load_model(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


class ApiError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def random_id(n, prefix=""):
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(random.choice(alphabet) for _ in range(n - len(prefix)))


# ------------------------------------------------------------------ validation from the model


class Validator:
    def __init__(self, model):
        self.shapes = model["shapes"]

    def validate(self, shape_name, value, path, errors):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        sensitive = shape.get("sensitive", False)
        shown = "" if sensitive else " '%s'" % (value if not isinstance(value, (dict, list)) else "")

        def fail(constraint):
            errors.append("Value%s at '%s' failed to satisfy constraint: %s" % (shown, path, constraint))

        if kind == "structure":
            if not isinstance(value, dict):
                return fail("Member must be a structure")
            members = shape.get("members", {})
            for req in shape.get("required", []):
                if value.get(req) is None:
                    errors.append("Value null at '%s' failed to satisfy constraint: Member must "
                                  "not be null" % (path + "." + req if path else req))
            for key, v in value.items():
                sub = path + "." + key if path else key
                if key not in members:
                    errors.append("'%s' is not a member of %s" % (sub, shape_name))
                    continue
                if v is None:
                    continue
                self.validate(members[key]["shape"], v, sub, errors)
            if shape.get("union") and sum(1 for v in value.values() if v is not None) != 1:
                fail("Member must set exactly one member of the union")
        elif kind == "list":
            if not isinstance(value, list):
                return fail("Member must be a list")
            if "min" in shape and len(value) < shape["min"]:
                fail("Member must have length greater than or equal to %d" % shape["min"])
            if "max" in shape and len(value) > shape["max"]:
                fail("Member must have length less than or equal to %d" % shape["max"])
            for i, v in enumerate(value):
                self.validate(shape["member"]["shape"], v, "%s.%d.member" % (path, i + 1), errors)
        elif kind == "map":
            if not isinstance(value, dict):
                return fail("Member must be a map")
            if "min" in shape and len(value) < shape["min"]:
                fail("Member must have length greater than or equal to %d" % shape["min"])
            if "max" in shape and len(value) > shape["max"]:
                fail("Member must have length less than or equal to %d" % shape["max"])
            for k, v in value.items():
                self.validate(shape["key"]["shape"], k, "%s.key" % path, errors)
                self.validate(shape["value"]["shape"], v, "%s.%s" % (path, k), errors)
        elif kind == "string":
            if not isinstance(value, str):
                return fail("Member must be a string")
            if "min" in shape and len(value) < shape["min"]:
                fail("Member must have length greater than or equal to %d" % shape["min"])
            if "max" in shape and len(value) > shape["max"]:
                fail("Member must have length less than or equal to %d" % shape["max"])
            # Smithy's pattern trait is not implicitly anchored: a search, not a full match.
            if "pattern" in shape and re.search(shape["pattern"], value) is None:
                fail("Member must satisfy regular expression pattern: %s" % shape["pattern"])
            if "enum" in shape and value not in shape["enum"]:
                fail("Member must satisfy enum value set: [%s]" % ", ".join(shape["enum"]))
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return fail("Member must be an integer")
            if "min" in shape and value < shape["min"]:
                fail("Member must have value greater than or equal to %d" % shape["min"])
            if "max" in shape and value > shape["max"]:
                fail("Member must have value less than or equal to %d" % shape["max"])
        elif kind == "boolean":
            if not isinstance(value, bool):
                fail("Member must be a boolean")
        elif kind == "timestamp":
            if isinstance(value, (int, float)):
                return
            try:
                datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                fail("Member must be a timestamp")


def validation_message(errors):
    n = len(errors)
    return "%d validation error%s detected: %s" % (n, "" if n == 1 else "s", "; ".join(errors))


# ------------------------------------------------------------------ SigV4


def verify_sigv4(method, raw_path, raw_query, headers, body, access_key, secret_key, service):
    auth = headers.get("authorization")
    if not auth:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                 r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$", auth)
    if not m:
        raise ApiError("IncompleteSignatureException", "Authorization header is malformed")
    key, date, region, svc, signed, signature = m.groups()
    if key != access_key:
        raise ApiError("UnrecognizedClientException",
                       "The security token included in the request is invalid.")
    if svc != service:
        raise ApiError("InvalidSignatureException", "Credential should be scoped to correct service: '%s'." % service)
    amz_date = headers.get("x-amz-date", "")
    # Canonical URI: each segment URI-encoded twice for services other than S3; raw_path is
    # what came over the wire (encoded once by the client).
    canonical_uri = "/".join(urllib.parse.quote(seg, safe="-_.~") for seg in raw_path.split("/"))
    pairs = []
    if raw_query:
        for item in raw_query.split("&"):
            k, _, v = item.partition("=")
            pairs.append((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                          urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~")))
    canonical_query = "&".join("%s=%s" % kv for kv in sorted(pairs))
    names = signed.split(";")
    canonical_headers = "".join("%s:%s\n" % (n, " ".join(headers.get(n, "").strip().split()))
                                for n in names)
    payload = hashlib.sha256(body).hexdigest()
    if headers.get("x-amz-content-sha256") not in (None, payload):
        raise ApiError("InvalidSignatureException", "x-amz-content-sha256 does not match the body")
    canonical = "\n".join([method, canonical_uri, canonical_query, canonical_headers, signed, payload])
    scope = "%s/%s/%s/aws4_request" % (date, region, svc)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret_key).encode()
    for part in (date, region, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ApiError("InvalidSignatureException",
                       "The request signature we calculated does not match the signature you "
                       "provided.")


# ------------------------------------------------------------------ the service


class Job:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.state = "PENDING"
        self.failure_reason = None
        self.state_details = None
        self.finished_at = None
        self.proc = None
        self.cancel = False
        self.forced = None  # (failureReason, stateDetails) from /_fake/.../fail
        self.done = threading.Event()

    def view(self, full=True):
        out = {"id": self.id, "name": self.name, "virtualClusterId": self.vc, "arn": self.arn,
               "state": self.state, "clientToken": self.client_token,
               "executionRoleArn": self.role, "releaseLabel": self.release,
               "jobDriver": self.driver, "createdAt": now_iso(self.created),
               "createdBy": "arn:aws:iam::%s:user/tug" % ACCOUNT, "tags": self.tags}
        if self.overrides:
            out["configurationOverrides"] = self.overrides
        if self.finished_at:
            out["finishedAt"] = now_iso(self.finished_at)
        if self.state_details:
            out["stateDetails"] = self.state_details[:256]
        if self.failure_reason:
            out["failureReason"] = self.failure_reason
        return out


class Service:
    def __init__(self, args):
        self.args = args
        self.model = load_model(args.model or model_path())
        self.validator = Validator(self.model)
        self.lock = threading.Lock()
        self.clusters = {}
        self.jobs = {}
        self.tokens = {}
        self.routes = []
        for name, op in self.model["operations"].items():
            uri = op["http"]["requestUri"].split("?")[0]
            pattern = "^" + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", uri) + "$"
            self.routes.append((op["http"]["method"], re.compile(pattern), name, op))
        self.s3 = None
        if args.s3_endpoint:
            import boto3  # installed with moto

            self.s3 = boto3.client(
                "s3", endpoint_url=args.s3_endpoint, region_name=args.region,
                aws_access_key_id=os.environ.get("FAKE_EMR_S3_ACCESS_KEY_ID", "fake"),
                aws_secret_access_key=os.environ.get("FAKE_EMR_S3_SECRET_ACCESS_KEY", "fake"))

    # --- requests

    def route(self, method, path):
        for m, rx, name, op in self.routes:
            if m != method:
                continue
            hit = rx.match(path)
            if hit:
                return name, op, {k: urllib.parse.unquote(v) for k, v in hit.groupdict().items()}
        return None, None, None

    def assemble(self, op, labels, query, headers, body):
        """The operation's input as one dict, each member from where the model puts it."""
        shape = self.model["shapes"][op["input"]["shape"]] if "input" in op else {"members": {}}
        members = shape.get("members", {})
        data = {}
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError("ValidationException", "the request body is not JSON")
            if not isinstance(data, dict):
                raise ApiError("ValidationException", "the request body is not a JSON object")
            for k in list(data):
                loc = members.get(k, {}).get("location")
                if loc:
                    raise ApiError("ValidationException",
                                   "'%s' belongs in the %s, not the body" % (k, loc))
        for name, m in members.items():
            loc = m.get("location")
            wire = m.get("locationName", name)
            if loc == "uri" and wire in labels:
                data[name] = labels[wire]
            elif loc == "querystring" and wire in query:
                target = self.model["shapes"][m["shape"]]
                values = query[wire]
                if target["type"] == "list":
                    data[name] = values
                elif target["type"] in ("integer", "long"):
                    try:
                        data[name] = int(values[-1])
                    except ValueError:
                        data[name] = values[-1]
                else:
                    data[name] = values[-1]
            elif loc == "header" and wire.lower() in headers:
                data[name] = headers[wire.lower()]
        for k in query:
            if not any(m.get("location") == "querystring" and m.get("locationName", n) == k
                       for n, m in members.items()):
                raise ApiError("ValidationException", "unknown query parameter '%s'" % k)
        errors = []
        if "input" in op:
            self.validator.validate(op["input"]["shape"], data, "", errors)
        if errors:
            raise ApiError("ValidationException", validation_message(errors))
        return data

    def error_status(self, op, name):
        shape = self.model["shapes"].get(name)
        declared = op is None or name in [e["shape"] for e in op.get("errors", [])]
        if shape and "error" in shape and declared:
            return shape["error"].get("httpStatusCode", 400)
        return {"MissingAuthenticationTokenException": 403, "UnrecognizedClientException": 403,
                "InvalidSignatureException": 403, "IncompleteSignatureException": 403,
                "NotImplemented": 501}.get(name, 500)

    # --- operations

    def CreateVirtualCluster(self, d):
        with self.lock:
            for c in self.clusters.values():
                if c["clientToken"] == d["clientToken"]:
                    return {"id": c["id"], "name": c["name"], "arn": c["arn"]}
            ns = d["containerProvider"].get("info", {}).get("eksInfo", {}).get("namespace", "default")
            for c in self.clusters.values():
                if c["namespace"] == ns and c["state"] == "RUNNING":
                    raise ApiError("ValidationException",
                                   "A virtual cluster already exists in the given namespace")
            vc = random_id(25)
            self.clusters[vc] = {
                "id": vc, "name": d["name"], "clientToken": d["clientToken"], "namespace": ns,
                "state": "RUNNING", "unavailable": False,
                "arn": "arn:aws:emr-containers:%s:%s:/virtualclusters/%s" % (self.args.region, ACCOUNT, vc)}
            return {"id": vc, "name": d["name"], "arn": self.clusters[vc]["arn"]}

    def StartJobRun(self, d):
        vc = d["virtualClusterId"]
        with self.lock:
            cluster = self.clusters.get(vc)
            if cluster is None or cluster["state"] != "RUNNING":
                raise ApiError("ResourceNotFoundException", "Virtual cluster %s doesn't exist." % vc)
            existing = self.tokens.get((vc, d["clientToken"]))
            if existing:
                j = self.jobs[existing]
                return {"id": j.id, "name": j.name, "arn": j.arn, "virtualClusterId": vc}
            if d.get("jobTemplateId"):
                raise ApiError("ValidationException", "fake emr-containers: job templates are not supported")
            for member in ("jobDriver", "releaseLabel", "executionRoleArn"):
                if not d.get(member):
                    raise ApiError("ValidationException",
                                   "%s is required when no job template is given" % member)
            if not re.match(r"^emr-\d+\.\d+\.\d+-(latest|\d{8})$", d["releaseLabel"]):
                raise ApiError("ResourceNotFoundException", "Release %s doesn't exist." % d["releaseLabel"])
            jid = random_id(19, "0000000")
            job = Job(id=jid, vc=vc, name=d.get("name", jid), client_token=d["clientToken"],
                      role=d["executionRoleArn"], release=d["releaseLabel"],
                      driver=d["jobDriver"], overrides=d.get("configurationOverrides"),
                      tags=d.get("tags", {}), created=time.time(),
                      arn="arn:aws:emr-containers:%s:%s:/virtualclusters/%s/jobruns/%s" % (
                          self.args.region, ACCOUNT, vc, jid))
            self.jobs[jid] = job
            self.tokens[(vc, d["clientToken"])] = jid
        threading.Thread(target=self.run_job, args=(job,), daemon=True).start()
        return {"id": job.id, "name": job.name, "arn": job.arn, "virtualClusterId": vc}

    def find(self, vc, jid, missing="ResourceNotFoundException"):
        j = self.jobs.get(jid)
        if j is None or j.vc != vc:
            raise ApiError(missing, "Job run %s doesn't exist." % jid)
        return j

    def DescribeJobRun(self, d):
        with self.lock:
            return {"jobRun": self.find(d["virtualClusterId"], d["id"]).view()}

    def CancelJobRun(self, d):
        with self.lock:
            # The model declares no ResourceNotFoundException for CancelJobRun.
            j = self.find(d["virtualClusterId"], d["id"], missing="ValidationException")
            if j.state in ("FAILED", "CANCELLED", "CANCEL_PENDING", "COMPLETED"):
                raise ApiError("ValidationException", "Job run %s is not in a cancellable state" % j.id)
            j.cancel = True
            if j.proc is None:
                self.end(j, "CANCELLED", None, "fake: cancelled by CancelJobRun before it ran")
            else:
                j.state = "CANCEL_PENDING"
                self.signal_group(j, signal.SIGTERM)
                threading.Timer(self.args.cancel_grace, self.signal_group, (j, signal.SIGKILL)).start()
            return {"id": j.id, "virtualClusterId": j.vc}

    def ListJobRuns(self, d):
        with self.lock:
            runs = [j for j in self.jobs.values() if j.vc == d["virtualClusterId"]]
        if d.get("name"):
            runs = [j for j in runs if j.name == d["name"]]
        if d.get("states"):
            runs = [j for j in runs if j.state in d["states"]]
        for key, keep in (("createdAfter", lambda j, t: j.created >= t),
                          ("createdBefore", lambda j, t: j.created <= t)):
            if d.get(key):
                t = datetime.datetime.fromisoformat(d[key].replace("Z", "+00:00")).timestamp()
                runs = [j for j in runs if keep(j, t)]
        runs.sort(key=lambda j: j.created, reverse=True)
        start = int(d.get("nextToken") or 0)
        size = d.get("maxResults") or 50
        page = runs[start:start + size]
        out = {"jobRuns": [j.view() for j in page]}
        if start + size < len(runs):
            out["nextToken"] = str(start + size)
        return out

    # --- the fake cluster

    def signal_group(self, job, sig):
        if job.proc is not None and job.proc.poll() is None:
            try:
                os.killpg(job.proc.pid, sig)
            except ProcessLookupError:
                pass

    def end(self, job, state, reason, details):
        """lock held"""
        job.state = state
        job.failure_reason = reason
        job.state_details = details
        job.finished_at = time.time()
        job.done.set()

    def run_job(self, job):
        time.sleep(self.args.submit_delay)
        with self.lock:
            if job.state != "PENDING":
                return
            if job.forced:
                return self.end(job, "FAILED", job.forced[0], job.forced[1])
            if self.clusters[job.vc]["unavailable"]:
                return self.end(job, "FAILED", "CLUSTER_UNAVAILABLE",
                                "fake: virtual cluster %s is marked unavailable" % job.vc)
            job.state = "SUBMITTED"
        driver = job.driver.get("sparkSubmitJobDriver")
        entry = (driver or {}).get("entryPoint", "")
        if not entry.startswith("local://"):
            with self.lock:
                return self.end(job, "FAILED", "VALIDATION_ERROR",
                                "fake: only local:// entry points run here, not %s" % entry[:80])
        argv = [entry[len("local://"):]] + list(driver.get("entryPointArguments", []))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for conf in (job.overrides or {}).get("applicationConfiguration", []):
            if conf.get("classification") == "spark-defaults":
                for k, v in conf.get("properties", {}).items():
                    if k.startswith("spark.kubernetes.driverEnv."):
                        env[k[len("spark.kubernetes.driverEnv."):]] = v
        work = tempfile.mkdtemp(prefix="fake-emr-%s-" % job.id)
        # The driver's output lives on in S3 (as EMR's does); its scratch folder goes, however
        # the job ends.
        try:
            out_path, err_path = os.path.join(work, "stdout"), os.path.join(work, "stderr")
            with self.lock:
                if job.cancel:
                    return self.end(job, "CANCELLED", None, "fake: cancelled by CancelJobRun before it ran")
                with open(out_path, "wb") as out, open(err_path, "wb") as err:
                    try:
                        job.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=work,
                                                    start_new_session=True)
                    except OSError as e:
                        return self.end(job, "FAILED", "USER_ERROR", "fake: the driver could not start: %s" % e)
                job.state = "RUNNING"
            rc = job.proc.wait()
            exit_code = rc if rc >= 0 else 128 - rc
            with self.lock:
                forced, cancelled = job.forced, job.cancel
            try:
                self.upload_logs(job, out_path, err_path, exit_code, cancelled)
            except Exception as e:  # the run still ends; the engine reports the missing logs
                print("fake emr: log upload failed: %s" % e, file=sys.stderr, flush=True)
            with self.lock:
                if forced:
                    self.end(job, "FAILED", forced[0], forced[1])
                elif cancelled:
                    self.end(job, "CANCELLED", None, "fake: cancelled by CancelJobRun")
                elif exit_code == 0:
                    self.end(job, "COMPLETED", None, None)
                else:
                    self.end(job, "FAILED", "USER_ERROR",
                             "fake: the driver exited with code %d; see the logs in S3" % exit_code)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def upload_logs(self, job, out_path, err_path, exit_code, cancelled):
        mon = (job.overrides or {}).get("monitoringConfiguration", {})
        uri = mon.get("s3MonitoringConfiguration", {}).get("logUri")
        if not uri or self.s3 is None:
            return
        rest = uri[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        base = "%s%s/jobs/%s/containers/" % (prefix, job.vc, job.id)
        app = "spark-%s" % job.id

        def put(key, data):
            self.s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(data))

        with open(out_path, "rb") as f:
            put("%s%s/%s-driver/stdout.gz" % (base, app, app), f.read())
        with open(err_path, "rb") as f:
            put("%s%s/%s-driver/stderr.gz" % (base, app, app), f.read())
        stamp = time.strftime("%y/%m/%d %H:%M:%S", time.gmtime())
        runner = io.StringIO()
        runner.write("%s INFO LoggingPodStatusWatcherImpl: Application status for %s (phase: Running)\n" % (stamp, app))
        runner.write("%s INFO LoggingPodStatusWatcherImpl: Container final statuses:\n\n\n" % stamp)
        runner.write("\t\t container name: spark-kubernetes-driver\n")
        runner.write("\t\t container image: fake-emr/%s\n" % job.release)
        runner.write("\t\t container state: terminated\n")
        runner.write("\t\t exit code: %d\n" % exit_code)
        runner.write("\t\t termination reason: %s\n" % ("Completed" if exit_code == 0 else "Error"))
        runner.write("%s INFO LoggingPodStatusWatcherImpl: Application %s with submission ID %s finished\n"
                     % (stamp, app, job.id))
        put("%s%s-runner/stdout.gz" % (base, job.id), runner.getvalue().encode())

    # --- test controls

    def control(self, path, body):
        data = json.loads(body or b"{}")
        m = re.match(r"^/_fake/virtualclusters/([^/]+)/unavailable$", path)
        if m:
            with self.lock:
                self.clusters[m.group(1)]["unavailable"] = bool(data.get("unavailable", True))
            return {}
        m = re.match(r"^/_fake/jobruns/([^/]+)/fail$", path)
        if m:
            with self.lock:
                j = self.jobs[m.group(1)]
                j.forced = (data.get("failureReason", "INTERNAL_ERROR"), data.get("stateDetails", ""))
                if j.proc is None and j.state in ("PENDING", "SUBMITTED"):
                    self.end(j, "FAILED", j.forced[0], j.forced[1])
                else:
                    self.signal_group(j, signal.SIGKILL)
            return {}
        raise ApiError("NotImplemented", "no such test control: " + path)

    def shutdown(self):
        with self.lock:
            jobs = list(self.jobs.values())
        for j in jobs:
            self.signal_group(j, signal.SIGKILL)


def handler_for(service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("fake emr: " + (fmt % args) + "\n")

        def reply(self, status, payload, error=None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", random_id(36))
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            raw_path, _, raw_query = self.path.partition("?")
            op = None
            try:
                if raw_path.startswith("/_fake/"):
                    return self.reply(200, service.control(raw_path, body))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verify_sigv4(self.command, raw_path, raw_query, headers, body,
                             service.args.access_key, service.args.secret_key, "emr-containers")
                name, op, labels = service.route(self.command, urllib.parse.unquote(raw_path))
                if name is None:
                    raise ApiError("NotImplemented", "no operation at %s %s" % (self.command, raw_path))
                query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
                data = service.assemble(op, labels, query, headers, body)
                impl = getattr(service, name, None)
                if impl is None:
                    raise ApiError("NotImplemented", "fake emr-containers does not implement " + name)
                self.reply(op["http"].get("responseCode", 200), impl(data))
            except ApiError as e:
                self.reply(service.error_status(op, e.name), {"message": e.message}, e.name)
            except Exception as e:  # an internal error is the model's InternalServerException
                self.reply(500, {"message": "fake emr-containers: %r" % e}, "InternalServerException")

        do_GET = do_POST = do_DELETE = do_PUT = handle_any

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--s3-endpoint", default="")
    p.add_argument("--submit-delay", type=float, default=0.05)
    p.add_argument("--cancel-grace", type=float, default=2.0)
    p.add_argument("--model", default="")
    args = p.parse_args()
    service = Service(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(service))
    server.daemon_threads = True

    def stop(*_):
        service.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
