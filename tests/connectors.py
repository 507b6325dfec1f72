"""connectors.py: the network connectors end to end, against the vendor mock
servers in tests/mocks (real HTTP over loopback, real SQLite hubs).

tests/run.py runs `suite(binaries, ok)` as its "connectors" suite; run alone
for development:  python3 tests/connectors.py [--only SUBSTRING] [--syncc PATH]

Each case starts its own mock (python3 tests/mocks/VENDOR.py), writes a spec
whose URLs point at it, compiles it with syncc and runs syncvm.  Cases:
  pull        every entity of every vendor into a fresh hub, compared with the
              mock's own data set (GET /_mock/data); then a re-plan: no change
  fault       each fault of mockbase.FAULT_KINDS, for each vendor: the run
              retries and gets exactly the same hub
  broken      a fault that does not clear (500 forever, an empty page where
              the total says there are records): the run fails with a clear
              message and the hub file is exactly as before (no deletions)
  ratelimit   a Veracross mock allowing 20 requests per 10 s: a 100-page pull
              gets no 429 and takes within 10% of the least time the limit allows
  secrets     no client id, secret or token in stdout, stderr, the hub, the
              plan, the run file or a recording
  misc        test-connection (good and bad credentials, a missing scope),
              fetch --record then --replay, plain http refused
  tls         https to a mock with a certificate of a test CA: refused without
              ca_file, works with it
  incremental a source that is not bulk pulls only what changed
Timing knobs for the tests only: SYNC_HTTP_BACKOFF (first retry delay) and
SYNC_HTTP_TIMEOUT (seconds per attempt).
"""
import concurrent.futures
import json
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCKS = os.path.join(ROOT, "tests", "mocks")
FAULTS = ["429", "429_retry_after", "500", "503", "drop", "slow", "truncate", "badjson", "expire_token", "empty_page"]
ID, SECRET = "test-client", "test-secret"
SCRATCH = []  # case directories, removed when the suite ends


class Mock:
    """A vendor mock server process for the length of a `with` block."""

    def __init__(self, script, config, tls=False):
        self.cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(config, self.cfg)
        self.cfg.close()
        self.proc = subprocess.Popen([sys.executable, os.path.join(MOCKS, script), "--config", self.cfg.name] + (["--tls"] if tls else []),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{script} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.tls = tls

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        os.unlink(self.cfg.name)

    def call(self, path, body=None):
        scheme = "https" if self.tls else "http"
        ctx = ssl.create_default_context(cafile=os.path.join(MOCKS, "tls", "ca.pem")) if self.tls else None
        req = urllib.request.Request(f"{scheme}://127.0.0.1:{self.port}{path}",
                                     data=json.dumps(body).encode() if body is not None else None, method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            return json.load(r)

    def config(self, **kw):
        self.call("/_mock/config", kw)

    def stats(self):
        return self.call("/_mock/stats")

    def data(self):
        return self.call("/_mock/data")


# ---- the vendors -------------------------------------------------------------------


def vc_expect(d):
    return {"student": {f"VC-{s['id']}" for s in d["students"]}, "enrollment": len(d["academics/enrollments"]),
            "class": len(d["academics/classes"]), "teacher": len(d["staff_faculty"])}


def ps_expect(d):
    return {"student": {f"PS-{s['id']}" for s in d["students"]}, "enrollment": len(d["section_enrollments"]),
            "class": len(d["sections"]), "teacher": len(d["staff"])}


def or_role(u):
    if "role" in u:
        return u["role"]
    roles = u.get("roles") or []
    prim = [r for r in roles if r.get("roleType") == "primary"] or roles
    return prim[0]["role"] if prim else None


def or_expect(d):
    return {"student": {f"OR-{u['sourcedId']}" for u in d["users"] if or_role(u) == "student"},
            "enrollment": len(d["enrollments"]), "class": len(d["classes"]),
            "teacher": sum(1 for u in d["users"] if or_role(u) in ("teacher", "aide", "proctor"))}


def xp_expect(d):
    key = lambda name: d.get(name) or []
    return {"student": {f"XP-{s['@refId']}" for s in key("xStudents")}, "class": len(key("xRosters")),
            "staff": len(key("xStaffs"))}


VENDORS = {
    "veracross": dict(script="veracross.py", kind="veracross", env="VC", prefix="VC-", lib="veracross",
                      config={"max_page_size": 25}, expect=vc_expect,
                      settings='school_route = "springfield"\n  base_url = "{u}/springfield/v3"\n  token_url = "{u}/springfield/oauth/token"'),
    "powerschool": dict(script="powerschool.py", kind="powerschool", env="PS", prefix="PS-", lib="powerschool",
                        config={"max_page_size": 25}, expect=ps_expect, settings='url = "{u}"'),
    "oneroster": dict(script="oneroster.py", kind="oneroster", env="OR", prefix="OR-", lib="oneroster",
                      config={"max_limit": 50}, expect=or_expect,
                      settings='url = "{u}/ims/oneroster/v1p1"\n  token_url = "{u}/token"'),
    "oneroster12": dict(script="oneroster.py", kind="oneroster", env="OR", prefix="OR-", lib="oneroster",
                        config={"max_limit": 50, "version": "1.2", "enabled_user_as_string": True, "expires_in_as_string": True},
                        expect=or_expect, settings='url = "{u}/ims/oneroster/rostering/v1p2"\n  token_url = "{u}/token"'),
    "oneroster_oauth1": dict(script="oneroster.py", kind="oneroster", env="OR", prefix="OR-", lib="oneroster",
                             config={"max_limit": 50, "auth": "oauth1"}, expect=or_expect,
                             settings='url = "{u}/ims/oneroster/v1p1"\n  auth = "oauth1"'),
    "synergy": dict(script="oneroster.py", kind="synergy", env="SY", prefix="OR-", lib="oneroster",
                    config={"max_limit": 50, "version": "1.2", "token_path": "/oauth/token"}, expect=or_expect,
                    settings='url = "{u}/ims/oneroster/rostering/v1p2"\n  token_url = "{u}/oauth/token"'),
    "xpress": dict(script="xpress.py", kind="xpress", env="XP", prefix="XP-", lib="xpress", config={"max_page_size": 25},
                   entities="[school, student, contact, teacher, admin, course, class, calendar, enrollment]",
                   expect=xp_expect, settings='token_url = "{u}/login"'),
}
ENTITIES = "[school, student, contact, teacher, course, class, calendar, enrollment]"


def spec_text(v, port, extra=""):
    u = f"http://127.0.0.1:{port}"
    return f"""use stdlib.{v['lib']}

source src : {v['kind']} {{
  {v['settings'].format(u=u)}
  client_id     = env("{v['env']}_ID")
  client_secret = env("{v['env']}_SECRET")
  prefix        = "{v['prefix']}"
  bulk          = true
  entities      = {v.get('entities', ENTITIES)}
  {extra}
}}

schools src {{
  auto
}}
"""


class Case:
    """A scratch directory with a compiled spec for one mock."""

    def __init__(self, syncc, vendor, mock, extra="", secret=SECRET, ident=ID):
        self.v = VENDORS[vendor]
        self.dir = tempfile.mkdtemp(prefix=f"conn-{vendor}-")
        SCRATCH.append(self.dir)
        self.vm = os.path.abspath(syncc.replace("syncc", "syncvm"))
        with open(os.path.join(self.dir, "spec.sync"), "w") as f:
            f.write(spec_text(self.v, mock.port, extra))
        self.plan = os.path.join(self.dir, "spec.plan")
        p = subprocess.run([syncc, "build", os.path.join(self.dir, "spec.sync"), "-o", self.plan], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("syncc build failed: " + p.stderr)
        self.env = dict(os.environ, SYNC_HTTP_BACKOFF="0.05", SYNC_HTTP_TIMEOUT="2",
                        ASAN_OPTIONS="detect_leaks=1:exitcode=99", UBSAN_OPTIONS="halt_on_error=1:exitcode=98")
        self.env[self.v["env"] + "_ID"] = ident
        self.env[self.v["env"] + "_SECRET"] = secret
        self.db = os.path.join(self.dir, "hub.db")

    def vm_run(self, *args, timeout=120):
        cmd = [self.vm, args[0]] + ([self.plan] if args[0] not in ("history",) else []) + list(args[1:]) + ["--store", self.db]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=self.dir, timeout=timeout)

    def counts(self):
        con = sqlite3.connect(self.db)
        out = {"student": {r[0] for r in con.execute("SELECT sis_id FROM hub_student")}}
        for e in ("enrollment", "class", "teacher"):
            out[e] = con.execute(f"SELECT count(*) FROM hub_{e}").fetchone()[0]
        out["staff"] = out["teacher"] + con.execute("SELECT count(*) FROM hub_admin").fetchone()[0]
        con.close()
        return out

    def dump(self):
        if not os.path.exists(self.db):
            return None
        con = sqlite3.connect(self.db)
        text = "\n".join(con.iterdump())
        con.close()
        return text


def compare(expect, got):
    """A list of differences between the mock's data and the hub."""
    diffs = []
    for k, want in expect.items():
        have = got.get(k)
        if want != have:
            if isinstance(want, set):
                diffs.append(f"{k}: {len(want)} expected, {len(have)} in the hub; missing {sorted(want - have)[:3]}, extra {sorted(have - want)[:3]}")
            else:
                diffs.append(f"{k}: {want} expected, {have} in the hub")
    return diffs


# ---- cases -------------------------------------------------------------------------------


def case_pull(syncc, vendor):
    v = VENDORS[vendor]
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, vendor, m)
        p = c.vm_run("apply")
        if p.returncode != 0:
            return [f"apply exit {p.returncode}: {p.stderr[-600:]}"]
        diffs = compare(v["expect"](m.data()), c.counts())
        st = m.stats()
        if st["data_requests"] < 6:
            diffs.append(f"only {st['data_requests']} data requests: not a multi-page pull")
        p = c.vm_run("plan", "--summary")
        if p.returncode != 0:
            diffs.append(f"the re-plan finds changes (exit {p.returncode}): {p.stdout[-400:]} {p.stderr[-300:]}")
        return diffs


def case_fault(syncc, vendor, kind, fault=None):
    v = VENDORS[vendor]
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, vendor, m)
        fault = fault or {"at": 3, "kind": kind, "seconds": 3}
        m.config(faults=[fault])
        p = c.vm_run("apply")
        if p.returncode != 0:
            return [f"apply exit {p.returncode} after fault {kind}: {p.stderr[-600:]}"]
        m.config(faults=[])
        return compare(v["expect"](m.data()), c.counts())


def case_broken(syncc, vendor, kind, message):
    """Day 1 applies; then a fault that does not clear: the run fails, the hub is untouched."""
    v = VENDORS[vendor]
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, vendor, m)
        p = c.vm_run("apply")
        if p.returncode != 0:
            return [f"day-1 apply exit {p.returncode}: {p.stderr[-400:]}"]
        before = c.dump()
        m.config(faults=[{"at": 4, "kind": kind, "times": 100000}])
        p = c.vm_run("apply")
        diffs = []
        if p.returncode != 1:
            diffs.append(f"apply with a lasting {kind} exits {p.returncode}, not 1: {p.stdout[-300:]}")
        if message not in p.stderr or "hub is unchanged" not in p.stderr:
            diffs.append(f"the message does not say {message!r} and that the hub is unchanged: {p.stderr[-500:]}")
        if c.dump() != before:
            diffs.append("the hub changed")
        return diffs


def case_ratelimit(syncc):
    """20 requests per 10 s; students only, one per page: 95 pages and the
    few requests that find the end (Veracross sends no total): about 100."""
    v = VENDORS["veracross"]
    with Mock(v["script"], {"students": 95, "max_page_size": 1, "rate_limit": {"limit": 20, "window": 10}, "reset_decimals": 3}) as m:
        c = Case(syncc, "veracross", m)
        with open(os.path.join(c.dir, "spec.sync")) as f:
            text = f.read().replace(ENTITIES, "[student]")
        with open(os.path.join(c.dir, "spec.sync"), "w") as f:
            f.write(text)
        subprocess.run([syncc, "build", os.path.join(c.dir, "spec.sync"), "-o", c.plan], check=True)
        t0 = time.time()
        p = c.vm_run("fetch", "--record", os.path.join(c.dir, "rec"), timeout=200)
        took = time.time() - t0
        st = m.stats()
        n = st["data_requests"]
        least = (-(-n // 20) - 1) * 10
        diffs = []
        if p.returncode != 0:
            diffs.append(f"fetch exit {p.returncode}: {p.stderr[-400:]}")
        if st["status_counts"].get("429"):
            diffs.append(f"{st['status_counts']['429']} responses were 429")
        if n < 95:
            diffs.append(f"{n} data requests, not a 100-page pull")
        if took > least * 1.1:
            diffs.append(f"{n} requests took {took:.1f} s; the limit allows {least} s (+10% = {least * 1.1:.1f})")
        return diffs, f"{n} requests in {took:.1f} s (least {least} s)"


def grep_secrets(paths, texts, secrets):
    found = []
    for s in secrets:
        for name, t in texts.items():
            if s in t:
                found.append(f"{s!r} in {name}")
        for root in paths:
            for dp, _, files in os.walk(root) if os.path.isdir(root) else [(os.path.dirname(root), None, [os.path.basename(root)])]:
                for fn in files:
                    full = os.path.join(dp, fn)
                    with open(full, "rb") as f:
                        if s.encode() in f.read():
                            found.append(f"{s!r} in {full}")
    return found


def case_secrets(syncc, vendor):
    ident, secret = f"id-{vendor}-Q7xZ", f"secret-{vendor}-K9wV#&="
    v = VENDORS[vendor]
    cfg = dict(v["config"], client_id=ident, client_secret=secret)
    with Mock(v["script"], cfg) as m:
        c = Case(syncc, vendor, m, secret=secret, ident=ident)
        texts = {}
        for args in (("apply",), ("plan", "-o", "run.json", "--trace"), ("fetch", "--record", "rec"), ("test-connection",), ("history",)):
            p = c.vm_run(*args)
            texts[" ".join(args) + " stdout"] = p.stdout
            texts[" ".join(args) + " stderr"] = p.stderr
        m.config(faults=[{"at": 1, "kind": "500", "times": 100000}])
        p = c.vm_run("plan")
        texts["failing plan stderr"] = p.stderr
        c.env[v["env"] + "_SECRET"] = secret + "-wrong"
        p = c.vm_run("test-connection")
        texts["bad-credentials test-connection"] = p.stdout + p.stderr
        return grep_secrets([c.dir], texts, [ident, secret] if vendor != "oneroster_oauth1" else [secret])


def case_misc(syncc):
    diffs = []
    v = VENDORS["veracross"]
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, "veracross", m)
        p = c.vm_run("test-connection")
        if p.returncode != 0 or p.stdout.count(" OK") < 10:
            diffs.append(f"test-connection: exit {p.returncode}: {p.stdout[-500:]}")
        p = c.vm_run("fetch", "--record", "rec")
        q = c.vm_run("plan", "--summary", "--replay", "src=rec/src")
        r = c.vm_run("plan", "--summary")
        if p.returncode != 0 or q.returncode != 2 or q.stdout != r.stdout:
            diffs.append(f"fetch --record then --replay differs from a live plan: {p.stderr[-300:]} {q.stdout[-300:]} {r.stdout[-300:]}")
        c.env["VC_SECRET"] = "wrong"
        p = c.vm_run("test-connection")
        if p.returncode != 1 or "invalid_client" not in p.stdout + p.stderr and "Client authentication failed" not in p.stdout:
            diffs.append(f"test-connection with a bad secret: exit {p.returncode}: {p.stdout[-400:]}")
    with Mock(v["script"], dict(v["config"], allowed_scopes="students:list")) as m:
        c = Case(syncc, "veracross", m, extra='')
        p = c.vm_run("test-connection")
        if p.returncode != 1 or "scope" not in p.stdout:
            diffs.append(f"test-connection with a missing scope: exit {p.returncode}: {p.stdout[-400:]}")
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, "veracross", m)
        text = open(os.path.join(c.dir, "spec.sync")).read().replace(f"http://127.0.0.1:{m.port}", "http://sis.example.org")
        open(os.path.join(c.dir, "spec.sync"), "w").write(text)
        p = subprocess.run([syncc, "build", os.path.join(c.dir, "spec.sync"), "-o", c.plan], capture_output=True, text=True)
        if p.returncode != 1 or "must be an https:// URL" not in p.stderr:
            diffs.append(f"plain http to a remote host is not refused by syncc: exit {p.returncode}: {p.stderr[-300:]}")
    return diffs


def case_tls(syncc):
    """https: verified against the system CAs (the test CA is not one of them:
    refused, not retried), then with ca_file naming the test CA: works."""
    diffs = []
    v = VENDORS["powerschool"]
    with Mock(v["script"], v["config"], tls=True) as m:
        c = Case(syncc, "powerschool", m)
        text = open(os.path.join(c.dir, "spec.sync")).read().replace("http://127.0.0.1", "https://127.0.0.1")
        open(os.path.join(c.dir, "spec.sync"), "w").write(text)
        subprocess.run([syncc, "build", os.path.join(c.dir, "spec.sync"), "-o", c.plan], check=True)
        p = c.vm_run("apply")
        if p.returncode != 1 or "certificate" not in p.stderr:
            diffs.append(f"an unknown CA is not refused: exit {p.returncode}: {p.stderr[-300:]}")
        if m.stats()["data_requests"] != 0:
            diffs.append("data requests reached the server over an unverified connection")
        text = text.replace('url = "https', 'ca_file = "%s"\n  url = "https' % os.path.join(MOCKS, "tls", "ca.pem"))
        open(os.path.join(c.dir, "spec.sync"), "w").write(text)
        subprocess.run([syncc, "build", os.path.join(c.dir, "spec.sync"), "-o", c.plan], check=True)
        p = c.vm_run("apply")
        if p.returncode != 0:
            diffs.append(f"with ca_file: exit {p.returncode}: {p.stderr[-300:]}")
        else:
            diffs += compare(v["expect"](m.data()), c.counts())
    return diffs


def case_incremental(syncc):
    """A Veracross source that is not bulk asks, after an applied run, only for
    what changed since then where the endpoint can filter on it."""
    v = VENDORS["veracross"]
    with Mock(v["script"], v["config"]) as m:
        c = Case(syncc, "veracross", m)
        text = open(os.path.join(c.dir, "spec.sync")).read().replace("bulk          = true", "bulk          = false")
        text = text.replace(ENTITIES, "[school, student, course, class, enrollment]")
        open(os.path.join(c.dir, "spec.sync"), "w").write(text)
        subprocess.run([syncc, "build", os.path.join(c.dir, "spec.sync"), "-o", c.plan], check=True)
        p = c.vm_run("apply")
        first = [e[2] for e in m.stats()["log"]]
        m.call("/_mock/reset_stats", {})
        q = c.vm_run("plan")
        second = [e[2] for e in m.stats()["log"]]
        diffs = []
        if p.returncode != 0 or q.returncode not in (0, 2):
            diffs.append(f"exit {p.returncode}/{q.returncode}: {p.stderr[-300:]} {q.stderr[-300:]}")
        if any("on_or_after_last_modified_date" in u for u in first):
            diffs.append("the first pull was incremental")
        if not all("on_or_after_last_modified_date" in u for u in second):
            diffs.append(f"the second pull was not incremental: {second[:4]}")
        return diffs


# ---- the suite -------------------------------------------------------------------------------------


def jobs(binaries):
    syncc = binaries[0]
    vendors = [name for name, v in VENDORS.items() if os.path.exists(os.path.join(MOCKS, v["script"]))]
    out = [("ratelimit", lambda: case_ratelimit(syncc))]
    for b in binaries:
        tag = "" if b == syncc else " [san]"
        out += [(f"pull {name}{tag}", lambda b=b, name=name: case_pull(b, name)) for name in vendors]
    for name in vendors:
        out += [(f"fault {name} {k}", lambda name=name, k=k: case_fault(syncc, name, k)) for k in FAULTS]
        # An empty page 2 right after a short page 1 (the server serves fewer
        # than asked, and sends no total): a glitch, not the end.
        out.append((f"fault {name} empty_page_2", lambda name=name: case_fault(
            syncc, name, "empty_page", {"path": "/students", "at": 2, "kind": "empty_page"})))
        out.append((f"broken {name} 500", lambda name=name: case_broken(syncc, name, "500", "HTTP 500")))
        out.append((f"secrets {name}", lambda name=name: case_secrets(syncc, name)))
    for name in ("powerschool", "oneroster"):
        if name in vendors:
            out.append((f"broken {name} empty_page", lambda name=name: case_broken(syncc, name, "empty_page", "came back empty")))
    out.append(("misc", lambda: case_misc(syncc)))
    out.append(("tls", lambda: case_tls(syncc)))
    out.append(("incremental", lambda: case_incremental(syncc)))
    return out


def suite(binaries, ok, only=None):
    todo = [(n, f) for n, f in jobs(binaries) if not only or only in n]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futs = {pool.submit(f): n for n, f in todo}
        for fut in concurrent.futures.as_completed(futs):
            name = futs[fut]
            try:
                res = fut.result()
            except Exception as e:  # a case that crashed is a failure, not the end of the suite
                res = [f"{type(e).__name__}: {e}"]
            note = ""
            if isinstance(res, tuple):
                res, note = res
            ok(f"connectors {name}", not res, "; ".join(res))
            if note:
                print(f"connectors {name}: {note}", flush=True)
    for d in SCRATCH:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--syncc", default=os.path.join(ROOT, "build", "syncc"))
    ap.add_argument("--only")
    a = ap.parse_args()
    counts = [0, 0]

    def report(name, cond, detail=""):
        counts[0 if cond else 1] += 1
        print(("ok   " if cond else "FAIL ") + name + ("" if cond else "\n  " + detail), flush=True)

    suite([a.syncc], report, a.only)
    print(f"{counts[0]} passed, {counts[1]} failed")
    sys.exit(1 if counts[1] else 0)
