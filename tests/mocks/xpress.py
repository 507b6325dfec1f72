#!/usr/bin/env python3
"""xpress.py: a mock of the xPress Roster API as RICOne serves it (login
server and one provider endpoint), for the xpress connector's tests.

    python3 tests/mocks/xpress.py [--config FILE.json]   -> "PORT <n>"

Wire protocol (../shared/research/connectors.md section 5; RICOne client
field names; [I] marks what no public source confirmed):

  POST /login            the auth server.  Body: a form
                         (username=CLIENT_ID&password=CLIENT_SECRET, what the
                         syncc client sends) or the same two keys as a JSON
                         object (what the RICOne Java client sends).  200:
                           {"id": "...", "user_name": CLIENT_ID,
                            "token": JWT, "access_token": JWT,
                            "expires_in": token_lifetime,
                            "endpoint": [{"name": "mock", "provider_id": "mock",
                                          "href": "http://127.0.0.1:PORT/api/xpress/",
                                          "token": JWT}]}
                         The JWT's payload holds application_id, iat, exp
                         and iss, as RICOne's do.  Bad credentials: 401;
                         no credentials or an unreadable body: 400 [I].
  GET HREF{resource}     resource: xLeas, xSchools, xCalendars, xCourses,
                         xRosters, xStaffs, xStudents, xContacts.  Needs
                         Authorization: Bearer JWT (missing, unknown or
                         expired: 401).  Accept must allow JSON (else 406).
                         Body: {"xStudents": {"xStudent": [...]}}.
  GET HREF{resource}/{refId}   one record, {"xStudent": {...}}; 404 unknown.

  Paging: request headers navigationPage (1-based) and navigationPageSize
  (clamped to max_page_size); the response echoes them and adds
  navigationLastPage (at least 1).  Without navigationPage every record comes
  in one body.  A page past the last: 200 with an empty envelope
  ({"xStudents": {"xStudent": []}}).  A bad paging header: 400.
  SchoolYear (request header): accepted; an integer, else 400.
  ?changesSinceMarker=T (ISO 8601 date or time; "" for everything): only
  the records modified after T (every record is modified at 2024-08-15 unless
  `modified` says otherwise), paged the same way; the response header
  changesSinceMarker is the marker to send next time (now).  No record
  changed: 204 with no body, as RICOne's server answers [I].
  Error bodies: {"status": N, "message": "..."} [I].

Config keys (mockbase's README lists the common ones):
  seed, students (120), client_id ("test-client"), client_secret
  ("test-secret"), token_lifetime (3600), faults;
  max_page_size     the largest page served (default 100);
  one_as_object     a page holding one record sends it as an object, not a
                    one-element array (default false);
  modified          {refId: ISO time}: when those records last changed;
  rate_limit        {"limit": N, "window": S}: a test-only 429 with
                    Retry-After once N data requests fall in S seconds
                    (RICOne publishes no rate limit).

The data set is generated from `seed`: 1 LEA, 3 schools (elementary,
middle, high), one calendar per school (a full year and two semesters),
4 courses per school, rosters of at most 25 students per course with one
teacher each, staff about 1 per 15 students (a principal per school, the
rest teachers), `students` students, about 1.5 contacts per student (some
shared by siblings); names are realistic and e-mails unique.
"""
import base64
import datetime
import hashlib
import json
import math
import os
import sys
import time
import uuid
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockbase  # noqa: E402

RESOURCES = ("xLeas", "xSchools", "xCalendars", "xCourses", "xRosters", "xStaffs", "xStudents", "xContacts")
BASE_MODIFIED = "2024-08-15T00:00:00+00:00"
SCHOOL_YEAR = "2025"

FIRST = ["Ada", "Bo", "Carmen", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam",
         "Maya", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena",
         "Yusuf", "Zoe", "Aiden", "Beatriz", "Chloe", "Diego", "Emma", "Felix", "Hannah", "Isaac", "Jade", "Kofi"]
LAST = ["Lovelace", "Okafor", "Garcia", "Nguyen", "Smith", "Johnson", "Kowalski", "Haddad", "Rossi", "Tanaka",
        "Mensah", "Schmidt", "Murphy", "Patel", "Silva", "Cohen", "Larsen", "Moreau", "Ivanova", "Kim", "Brown",
        "Dubois", "Novak", "Reyes", "Walker", "Yamamoto", "Ali", "Costa", "Fischer", "Hughes"]
SCHOOLS = [("Lincoln Elementary School", "101", ["KG", "01", "02", "03", "04", "05"]),
           ("Jefferson Middle School", "102", ["06", "07", "08"]),
           ("Washington High School", "103", ["09", "10", "11", "12"])]
SUBJECTS = ["Mathematics", "English Language Arts", "Science", "Social Studies"]


def error(status, message):
    return mockbase.Response(status, {"status": status, "message": message})


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_time(text):
    """An ISO 8601 date or date-time as an aware datetime; None when it is not one."""
    try:
        t = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


class District:
    """The generated data set: RICOne-shaped records per resource."""

    def __init__(self, rng, nstudents):
        self.rng = rng
        self.emails = set()
        self.out = {r: [] for r in RESOURCES}
        self.lea = self.ref()
        self.out["xLeas"].append({"@refId": self.lea, "localId": "5305", "stateProvinceId": "530501060000",
                                  "ncesId": "3600001", "leaName": "Springfield City School District",
                                  "address": self.address(1), "phoneNumber": self.phone("Main")})
        self.schools = [self.school(*s) for s in SCHOOLS]
        self.calendars = {s["@refId"]: self.calendar(s) for s in self.schools}
        students = [self.student(i, nstudents) for i in range(nstudents)]
        staff = self.staff(students, max(6, math.ceil(nstudents / 15)))
        self.rosters(students, staff)
        self.contacts(students)

    def ref(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper()

    def name(self, last=None):
        return {"type": "LegalName", "familyName": last or self.rng.choice(LAST), "givenName": self.rng.choice(FIRST)}

    def email(self, name, domain):
        base = ("%s.%s" % (name["givenName"], name["familyName"])).lower()
        addr, n = base + "@" + domain, 1
        while addr in self.emails:
            n += 1
            addr = "%s%d@%s" % (base, n, domain)
        self.emails.add(addr)
        return {"emailType": "Primary", "emailAddress": addr}

    def phone(self, kind):
        return {"phoneNumberType": kind, "number": "555-%03d-%04d" % (self.rng.randrange(1000), self.rng.randrange(10000)),
                "primaryIndicator": True}

    def address(self, n):
        return {"addressType": "Physical", "line1": "%d %s Street" % (n, self.rng.choice(["Elm", "Oak", "Maple", "Cedar"])),
                "city": "Springfield", "stateProvince": "NY", "countryCode": "US", "postalCode": "120%02d" % (n % 100)}

    def school(self, name, local, grades):
        rec = {"@refId": self.ref(), "leaRefId": self.lea, "localId": local, "stateProvinceId": "530501060" + local,
               "schoolName": name, "gradeLevels": {"gradeLevel": grades}, "address": self.address(int(local)),
               "phoneNumber": self.phone("Main")}
        self.out["xSchools"].append(rec)
        return rec

    def calendar(self, school):
        sessions = [("FullSchoolYear", "FY", "Full year", "2024-09-03", "2025-06-20"),
                    ("Semester", "S1", "Fall semester", "2024-09-03", "2025-01-24"),
                    ("Semester", "S2", "Spring semester", "2025-01-27", "2025-06-20")]
        rec = {"@refId": self.ref(), "schoolRefId": school["@refId"], "schoolYear": SCHOOL_YEAR,
               "sessions": {"sessionList": [{"sessionType": t, "sessionCode": c, "description": d, "markingTerm": c != "FY",
                                             "schedulingTerm": True, "startDate": b, "endDate": e}
                                            for t, c, d, b, e in sessions]}}
        self.out["xCalendars"].append(rec)
        return rec

    def student(self, i, n):
        grades = [g for _, _, gs in SCHOOLS for g in gs]
        grade = grades[i * len(grades) // n]
        school = next(s for s in self.schools if grade in s["gradeLevels"]["gradeLevel"])
        name = self.name()
        local = str(100001 + i)
        rank = grades.index(grade)
        rec = {"@refId": self.ref(), "name": name, "localId": local, "stateProvinceId": "NY" + local,
               "appProvisioningInfo": {"loginId": (name["givenName"][0] + name["familyName"]).lower() + local[-3:]},
               "address": self.address(i + 10), "email": self.email(name, "students.springfield.example"),
               "demographics": {"sex": self.rng.choice(["Female", "Male"]), "hispanicLatinoEthnicity": False,
                                "birthDate": "%d-%02d-%02d" % (2019 - rank, self.rng.randint(1, 12), self.rng.randint(1, 28))},
               "enrollment": {"leaRefId": self.lea, "schoolRefId": school["@refId"], "membershipType": "Home",
                              "entryDate": "2024-09-03", "gradeLevel": grade,
                              "projectedGraduationYear": str(2037 - rank)},
               "studentContacts": {"contactPersonRefId": []}}
        self.out["xStudents"].append(rec)
        return rec

    def staff_member(self, school, job):
        name = self.name()
        rec = {"@refId": self.ref(), "name": name, "localId": "E%04d" % (len(self.out["xStaffs"]) + 1),
               "sex": self.rng.choice(["F", "M"]), "email": self.email(name, "springfield.example"),
               "appProvisioningInfo": {"loginId": (name["givenName"][0] + name["familyName"]).lower()},
               "primaryAssignment": {"leaRefId": self.lea, "schoolRefId": school["@refId"], "jobFunction": job}}
        self.out["xStaffs"].append(rec)
        return rec

    def staff(self, students, total):
        """A principal per school; the other staff are teachers, spread by enrolment (at least one a school)."""
        for s in self.schools:
            self.staff_member(s, "Principal")
        count = {s["@refId"]: 0 for s in self.schools}
        for st in students:
            count[st["enrollment"]["schoolRefId"]] += 1
        left = total - len(self.schools)
        return {s["@refId"]: [self.staff_member(s, "Teacher")
                              for _ in range(max(1, round(left * count[s["@refId"]] / max(1, len(students)))))]
                for s in self.schools}

    def rosters(self, students, teachers):
        for s in self.schools:
            sid = s["@refId"]
            mine = [st for st in students if st["enrollment"]["schoolRefId"] == sid]
            for k, subject in enumerate(SUBJECTS):
                course = {"@refId": self.ref(), "schoolRefId": sid, "schoolCourseId": "%s-%s" % (subject[:4].upper(), s["localId"]),
                          "courseTitle": "%s (%s)" % (subject, s["schoolName"].split()[0]), "subject": subject}
                self.out["xCourses"].append(course)
                for c in range(0, len(mine), 25):
                    self.roster(course, s, mine[c:c + 25], teachers[sid], k, c // 25)

    def roster(self, course, school, members, teachers, period, section):
        teacher = teachers[(period + section) % len(teachers)]
        person = lambda r: {"refId": r["@refId"], "localId": r["localId"], "givenName": r["name"]["givenName"],
                            "familyName": r["name"]["familyName"]}
        self.out["xRosters"].append({
            "@refId": self.ref(), "courseRefId": course["@refId"], "courseTitle": course["courseTitle"],
            "subject": course["subject"], "schoolRefId": school["@refId"],
            "schoolSectionId": "%s-%02d" % (course["schoolCourseId"], section + 1), "schoolYear": SCHOOL_YEAR,
            "meetingTimes": {"meetingTime": [{"timeTablePeriod": str(period + 1), "roomNumber": str(100 + period * 10 + section),
                                              "sessionCode": "FY", "schoolCalendarRefId": self.calendars[school["@refId"]]["@refId"]}]},
            "students": {"studentReference": [person(m) for m in members]},
            "primaryStaff": {"staffPersonReference": person(teacher), "teacherOfRecord": True, "percentResponsible": 100}})

    def contacts(self, students):
        """One or two contacts per student; about one student in ten shares the previous student's (a sibling)."""
        previous = None
        for st in students:
            if previous and self.rng.random() < 0.1:
                family = previous
            else:
                last = st["name"]["familyName"]
                family = [self.contact(last, code) for code in (["Mother", "Father"] if self.rng.random() < 0.5 else
                                                               [self.rng.choice(["Mother", "Father", "Guardian"])])]
            for c in family:
                c["relationships"]["relationship"].append({"studentRefId": st["@refId"], "relationshipCode": c["_code"],
                                                           "livesWith": True, "contactSequence": 1 + family.index(c)})
                st["studentContacts"]["contactPersonRefId"].append(c["@refId"])
            previous = family
        for c in self.out["xContacts"]:
            del c["_code"]

    def contact(self, last, code):
        name = self.name(last)
        rec = {"@refId": self.ref(), "name": name, "localId": "C%05d" % (len(self.out["xContacts"]) + 1),
               "email": self.email(name, "mail.example"), "phoneNumber": self.phone("Cell"),
               "relationships": {"relationship": []}, "_code": code}
        self.out["xContacts"].append(rec)
        return rec


class XpressMock(mockbase.Mock):
    def __init__(self, config):
        super().__init__(config)
        self.config.setdefault("students", 120)
        self.district = District(self.rng, int(self.config["students"]))
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.window = None

    # -- mockbase hooks ----------------------------------------------------------
    def data(self):
        return self.district.out

    def is_data_request(self, req):
        return req.path.startswith("/api/xpress/")

    def error(self, status, req):
        return error(status, "injected %d" % status)

    def expire_token(self, req):
        tok = self.bearer(req)
        if tok in self.tokens:
            self.tokens[tok] = 0

    def empty_page(self, req):
        res = self.resource_of(req) or "xStudents"
        return mockbase.Response(200, {res: {res[:-1]: []}})

    def handle(self, req):
        if req.path.rstrip("/") == "/login":
            return self.login(req)
        if self.is_data_request(req):
            return self.data_request(req)
        return error(404, "no such path")

    # -- login -----------------------------------------------------------------------
    def credentials(self, req):
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        text = req.body.decode("utf-8", "replace")
        if ctype == "application/json" or text.lstrip().startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError:
                return None
            return doc if isinstance(doc, dict) else None
        return dict(parse_qsl(text, keep_blank_values=True))

    def login(self, req):
        if req.method != "POST":
            return error(405, "POST the credentials to /login")
        cred = self.credentials(req)
        if not cred or not cred.get("username") or not cred.get("password"):
            return error(400, "username and password are required")
        if cred["username"] != self.config.get("client_id", "test-client") or \
                cred["password"] != self.config.get("client_secret", "test-secret"):
            return error(401, "invalid client id or secret")
        life = int(self.config.get("token_lifetime", 3600))
        token = self.new_token(cred["username"], life)
        host = req.header("Host") or "127.0.0.1"
        href = "http://%s/api/xpress/" % host
        return mockbase.Response(200, {"id": hashlib.sha1(cred["username"].encode()).hexdigest()[:24],
                                       "user_name": cred["username"], "token": token, "access_token": token,
                                       "expires_in": life,
                                       "endpoint": [{"name": "mock", "provider_id": "mock", "href": href, "token": token}]})

    def new_token(self, client, life):
        now = int(time.time())
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = b64url(json.dumps({"application_id": client, "iat": now, "exp": now + life, "iss": "mock-ricone",
                                  "n": self.rng.getrandbits(64)}, separators=(",", ":")).encode())
        token = "%s.%s.%s" % (head, body, b64url(self.rng.getrandbits(256).to_bytes(32, "big")))
        self.tokens[token] = now + life
        return token

    def bearer(self, req):
        auth = req.header("Authorization") or ""
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    # -- data ------------------------------------------------------------------------
    def resource_of(self, req):
        parts = req.path[len("/api/xpress/"):].strip("/").split("/")
        return parts[0] if parts and parts[0] in RESOURCES else None

    def check_request(self, req):
        """The 401/406/429 a data request gets before its data, or None."""
        tok = self.bearer(req)
        if not tok:
            return error(401, "an Authorization: Bearer token is required")
        if tok not in self.tokens:
            return error(401, "the token is unknown")
        if self.tokens[tok] <= time.time():
            return error(401, "the token has expired")
        accept = (req.header("Accept") or "*/*").lower()
        if "json" not in accept and "*/*" not in accept:
            return error(406, "this endpoint serves application/json")
        return self.rate_limited()

    def rate_limited(self):
        rl = self.config.get("rate_limit")
        if not rl:
            return None
        if self.window is None or (self.window.limit, self.window.window) != (int(rl["limit"]), float(rl["window"])):
            self.window = mockbase.RateWindow(int(rl["limit"]), float(rl["window"]))
        allowed, _, reset = self.window.take(time.time())
        if allowed:
            return None
        resp = error(429, "too many requests")
        resp.headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
        return resp

    def data_request(self, req):
        if req.method != "GET":
            return error(405, "xPress resources are read with GET")
        bad = self.check_request(req)
        if bad:
            return bad
        res = self.resource_of(req)
        if not res:
            return error(404, "unknown resource")
        year = req.header("SchoolYear")
        if year is not None and not year.strip().isdigit():
            return error(400, "SchoolYear must be a year")
        parts = req.path[len("/api/xpress/"):].strip("/").split("/")
        if len(parts) == 2:
            return self.one(res, parts[1])
        if len(parts) > 2:
            return error(404, "cross-link paths are not served by the mock")
        return self.collection(req, res)

    def one(self, res, ref):
        for rec in self.district.out[res]:
            if rec["@refId"] == ref:
                return mockbase.Response(200, {res[:-1]: rec})
        return error(404, "no %s with refId %s" % (res[:-1], ref))

    def changed(self, res, marker):
        since = parse_time(marker) if marker.strip() else None
        if marker.strip() and since is None:
            return None
        modified = self.config.get("modified", {})
        out = []
        for rec in self.district.out[res]:
            when = parse_time(modified.get(rec["@refId"], BASE_MODIFIED))
            if since is None or when > since:
                out.append(rec)
        return out

    def collection(self, req, res):
        records = self.district.out[res]
        headers = {}
        if "changesSinceMarker" in req.args:
            records = self.changed(res, req.args["changesSinceMarker"])
            if records is None:
                return error(400, "changesSinceMarker must be an ISO 8601 date or time")
            headers["changesSinceMarker"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            if not records:
                return mockbase.Response(204, b"", headers, content_type=None)
        return self.page(req, res, records, headers)

    def page(self, req, res, records, headers):
        page, size = req.header("navigationPage"), req.header("navigationPageSize")
        if page is None:
            return self.body(res, records, headers)
        try:
            page = int(page)
            size = int(size) if size is not None else int(self.config.get("max_page_size", 100))
        except ValueError:
            return error(400, "navigationPage and navigationPageSize must be integers")
        if page < 1 or size < 1:
            return error(400, "navigationPage and navigationPageSize start at 1")
        size = min(size, int(self.config.get("max_page_size", 100)))
        last = max(1, math.ceil(len(records) / size))
        headers.update({"navigationPage": str(page), "navigationPageSize": str(size), "navigationLastPage": str(last)})
        return self.body(res, records[(page - 1) * size:page * size], headers)

    def body(self, res, records, headers):
        items = records[0] if len(records) == 1 and self.config.get("one_as_object") else records
        headers.setdefault("navigationLastPage", "1")
        return mockbase.Response(200, {res: {res[:-1]: items}}, headers)


if __name__ == "__main__":
    mockbase.serve(XpressMock)
