"""oneroster.py: a OneRoster 1.1 / 1.2 REST mock server (also Synergy).

Speaks the OneRoster REST rostering binding as
../shared/research/connectors.md sections 4.2 and 8.3 describe it; Edupoint
Synergy is the same server with OAuth 2 and a token URL of its own (section
3), i.e. `token_path` set to something that is not under the base path.

    python3 tests/mocks/oneroster.py [--config FILE.json]   -> PORT <n>

Config keys (all optional; POST /_mock/config changes them at run time):

  common (mockbase):
    seed            1             the data set is generated from it
    students        120           number of students
    client_id       test-client   the one client (OAuth 2) / consumer key (OAuth 1)
    client_secret   test-secret   its secret
    token_lifetime  3600          seconds an OAuth 2 token lives
    faults          []            see mockbase.FAULT_KINDS
  this mock:
    version         "1.1"         "1.1" or "1.2" (base path, user shape, error body)
    auth            "oauth2"      "oauth2" or "oauth1" (two-legged OAuth 1.0a)
    token_path      "/token"      where POST client_credentials is served
    max_limit       1000          a larger `limit` is clamped to this
    expires_in_as_string false    token `expires_in` as "3600" instead of 3600
    enabled_user_as_string false  users' enabledUser as "true" instead of true
    rate_limit      null          {"limit": N, "window": S}: the N+1-th data
                                  request in S seconds -> 429 + Retry-After
    tobedeleted     0             this many users (the last students first) are
                                  served with status "tobedeleted" and
                                  dateLastModified DELETED_AT (later than any
                                  other record)

URL layout (BASE = /ims/oneroster/v1p1 for 1.1, /ims/oneroster/rostering/v1p2
for 1.2; every GET below BASE needs auth):

  POST {token_path}                   OAuth 2 token (Basic client_id:secret,
                                      form grant_type=client_credentials[&scope])
  BASE/orgs, /orgs/{id}               {"orgs": [...]} / {"org": {...}}
  BASE/schools, /schools/{id}         orgs of type school ("orgs" / "org")
  BASE/schools/{id}/students|teachers|classes|enrollments|courses|terms
  BASE/schools/{id}/classes/{cid}/students|teachers|enrollments
  BASE/academicSessions, /terms, /gradingPeriods (+ /{id}) "academicSessions"
  BASE/terms/{id}/classes
  BASE/courses, /courses/{id}, /courses/{id}/classes
  BASE/classes, /classes/{id}, /classes/{id}/students|teachers|enrollments
  BASE/users, /students, /teachers (+ /{id}, /{id}/classes)  always "users"/"user"
  BASE/enrollments, /enrollments/{id}
  BASE/demographics, /demographics/{id}   ("demographics" both ways)

Collections take limit (default 100, clamped to max_limit; not a whole number
>= 1 -> 400), offset (default 0; not a whole number >= 0 -> 400), filter
(`field op 'value'`, op one of = != > >= < <= ~ (contains, case-insensitive),
at most two clauses joined by AND or OR; dotted paths such as
orgs.sourcedId; a list field matches when any element does; date fields are
compared as instants; a field the collection does not have -> 400
invalid_filter_field), sort + orderBy=asc|desc (unknown field -> 400
invalid_sort_field) and fields (a projection; unknown names are ignored).
Every collection answer has X-Total-Count (after the filter) and a Link
header (first, last; next unless on the last page; prev unless at offset 0).

Errors: 1.1 {"statusInfoSet":[{"imsx_codeMajor":"failure","imsx_severity":
"error","imsx_description":..., "imsx_CodeMinor":{"imsx_codeMinorField":[
{"imsx_codeMinorFieldName":"TargetEndSystem","imsx_codeMinorFieldValue":CODE}]}}]};
1.2 the flat {"imsx_codeMajor":"failure","imsx_severity":"error",
"imsx_description":...,"imsx_codeMinor":CODE}.

OAuth 1.0a (auth "oauth1"): the Authorization header `OAuth k="v", ...`
(values percent-encoded) must carry oauth_consumer_key (= client_id),
oauth_nonce (never seen before), oauth_timestamp (within +-300 s of now),
oauth_signature_method HMAC-SHA256 or HMAC-SHA1, oauth_version "1.0" (may be
left out) and oauth_signature = base64(HMAC(key, base string)) where
  enc(s)      = RFC 3986 percent-encoding of the UTF-8 bytes: A-Z a-z 0-9 - . _ ~
                kept, everything else %XX with upper-case hex
  key         = enc(client_secret) + "&"
  base string = METHOD + "&" + enc("http://" + Host header + path) + "&" + enc(P)
  P           = the query parameters (decoded as a form, so "+" is a space),
                the body's parameters when it is a form (never, for GETs),
                and the oauth_* header parameters except oauth_signature (and
                realm), each as enc(name) "=" enc(value), sorted by encoded
                name then encoded value, joined with "&"
The Host header is used as sent (lower-cased), so the port is part of it;
path is the request path exactly as sent, without the query.

Data (deterministic from seed): a district and three schools (elementary
KG-05, middle 06-08, high 09-12), a schoolYear and two terms, one course per
school and subject, scheduled classes of at most 30 (24 on average for
120 students; every student takes 7), one teacher per about 15 students (at
least 3; one teaches at two schools), about 1.5 guardians per student (siblings share them; a few students have
none; 1.1 guardians have 0 or 1 orgs), one administrator (orgs: the three
schools; in 1.2 role siteAdministrator), student and teacher enrollments,
demographics for every student.  1.1 users carry `role` and `orgs`; 1.2 users
carry `roles` [{roleType, role, org}] and `primaryOrg`, no `role`/`orgs`.
GUIDRef hrefs are server-relative paths (BASE/resource/id).

Standard library only (Python 3.11).
"""
import base64
import datetime
import hashlib
import hmac
import json
import math
import os
import random
import re
import secrets
import sys
import time
import unicodedata
import uuid
from urllib.parse import parse_qsl, quote, unquote, urlencode

sys.path.insert(0, os.path.dirname(__file__))
import mockbase  # noqa: E402
from mockbase import Response  # noqa: E402

DEFAULTS = {
    "seed": 1, "students": 120, "client_id": "test-client", "client_secret": "test-secret",
    "token_lifetime": 3600, "version": "1.1", "auth": "oauth2", "token_path": "/token",
    "max_limit": 1000, "expires_in_as_string": False, "enabled_user_as_string": False,
    "rate_limit": None, "tobedeleted": 0,
}
BASES = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}
SCOPES = {
    "1.1": "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly "
           "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly",
    "1.2": "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly "
           "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly",
}
OAUTH1_SKEW = 300
DELETED_AT = "2026-12-01T08:30:00.000Z"

# ---------------------------------------------------------------------------
# Vocabulary for the generated district
# ---------------------------------------------------------------------------
GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
SCHOOL_YEAR = {"title": "2026-2027", "start": "2026-08-19", "end": "2027-06-11", "year": "2027"}
TERMS = [{"title": "Fall 2026", "start": "2026-08-19", "end": "2026-12-18"},
         {"title": "Spring 2027", "start": "2027-01-05", "end": "2027-06-11"}]
MAX_CLASS = 30
STUDENTS_PER_TEACHER = 15
# (level, school name suffix, grades, band, [(code, subject, term: None=year, 0=fall, 1=spring)])
LEVELS = [
    ("elementary", "Elementary School", GRADES[0:6], "K-5",
     [("ELA", "English Language Arts", None), ("MATH", "Mathematics", None), ("SCI", "Science", None),
      ("SS", "Social Studies", None), ("ART", "Art", None), ("MUS", "Music", None),
      ("PE", "Physical Education", None)]),
    ("middle", "Middle School", GRADES[6:9], "6-8",
     [("ELA", "English Language Arts", None), ("MATH", "Mathematics", None), ("SCI", "Science", None),
      ("SS", "Social Studies", None), ("SPAN", "Spanish", None), ("ART", "Visual Art", None),
      ("PE", "Physical Education", None)]),
    ("high", "High School", GRADES[9:13], "9-12",
     [("ENG", "English", None), ("MATH", "Mathematics", None), ("BIO", "Biology", None),
      ("HIST", "U.S. History", None), ("SPAN", "Spanish", None), ("HLTH", "Health", 0),
      ("PE", "Physical Education", 1)]),
]
TOWNS = ["Maplewood", "Fairview", "Cedar Falls", "Brookhaven", "Riverton", "Lakewood", "Millbrook",
         "Ashford", "Westfield", "Greenville", "Oak Park", "Bridgeport"]
SCHOOL_NAMES = ["Lincoln", "Jefferson", "Roosevelt", "Washington", "Franklin", "Madison", "Hawthorne",
                "Oak Ridge", "Cedar Grove", "Riverside", "Lakeview", "Maple Hill", "Pine Crest",
                "Sunnyside", "Kennedy", "Sojourner Truth", "Cesar Chavez", "Harriet Tubman"]
FEMALE = ["Olivia", "Emma", "Charlotte", "Amelia", "Sophia", "Mia", "Isabella", "Ava", "Evelyn",
          "Harper", "Luna", "Camila", "Sofia", "Scarlett", "Elizabeth", "Eleanor", "Emily", "Chloe",
          "Mila", "Violet", "Penelope", "Gianna", "Aria", "Abigail", "Ella", "Avery", "Hazel",
          "Nora", "Layla", "Lily", "Aurora", "Nova", "Ellie", "Madison", "Grace", "Isla", "Willow",
          "Zoe", "Riley", "Stella", "Zoë", "Aaliyah", "Priya", "Mei", "Fatima", "Ximena", "Valentina",
          "Ananya", "Yuna", "Chiara", "Siobhan", "Ngozi", "Leilani", "Renée", "Dolores", "Margaret",
          "Jennifer", "Patricia", "Linda", "Susan", "Karen", "Michelle", "Angela", "Laura"]
MALE = ["Liam", "Noah", "Oliver", "James", "Elijah", "William", "Henry", "Lucas", "Benjamin",
        "Theodore", "Mateo", "Levi", "Sebastian", "Daniel", "Jack", "Michael", "Alexander", "Owen",
        "Asher", "Samuel", "Ethan", "Leo", "Jackson", "Mason", "Ezra", "John", "Hudson", "Luca",
        "Aiden", "Joseph", "David", "Jacob", "Logan", "Luke", "Julian", "Gabriel", "Grayson",
        "Wyatt", "Matthew", "Isaac", "José", "Santiago", "Arjun", "Wei", "Omar", "Kwame", "Hiroshi",
        "Dmitri", "Tariq", "Andrés", "Seamus", "Thomas", "Robert", "Richard", "Charles",
        "Christopher", "Mark", "Anthony", "Steven", "Kevin", "Brian"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
        "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
        "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
        "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Okafor",
        "O'Brien", "Müller", "Nakamura", "Kowalski", "Haddad", "Singh", "Ivanova", "Díaz",
        "Fitzgerald", "Van der Berg", "McAllister", "Abernathy", "Lindqvist", "Achebe", "Tanaka",
        "Morales", "Reyes", "Cruz", "Ortiz", "Gutierrez", "Chavez", "Ward", "Brooks", "Sanders",
        "Price", "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry",
        "Powell", "Long", "Patterson", "Hughes", "Washington", "Butler", "Simmons", "Foster"]
NICKNAMES = {"Alexander": "Alex", "Benjamin": "Ben", "Christopher": "Chris", "Daniel": "Dan",
             "Elizabeth": "Liz", "Isabella": "Bella", "Jacob": "Jake", "Matthew": "Matt",
             "Michael": "Mike", "Samuel": "Sam", "Theodore": "Teddy", "William": "Will",
             "Margaret": "Maggie", "Penelope": "Penny", "Valentina": "Vale", "Santiago": "Santi",
             "Abigail": "Abby", "Jennifer": "Jen", "Patricia": "Pat", "Anthony": "Tony"}
MAIL_DOMAINS = ["example.com", "example.net", "mail.example.org", "inbox.example.com"]
RACES = ["white", "blackOrAfricanAmerican", "asian", "americanIndianOrAlaskaNative",
         "nativeHawaiianOrOtherPacificIslander"]
DATE_FIELDS = {"dateLastModified", "birthDate", "startDate", "endDate", "beginDate"}


# ---------------------------------------------------------------------------
# Generation: a version-neutral district (plain dicts, ids as references)
# ---------------------------------------------------------------------------
def new_id(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stamp(rng):
    """A dateLastModified between 2026-06-01 and 2026-11-30, with milliseconds."""
    base = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
    t = base + datetime.timedelta(milliseconds=rng.randrange(0, 182 * 86400 * 1000))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def ascii_slug(text):
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def fake_phone(rng):
    return "%03d-555-01%02d" % (rng.choice([206, 312, 503, 617, 720, 919]), rng.randrange(100))


class Namer:
    """Names, and usernames and emails unique across the district."""

    def __init__(self, rng, domain):
        self.rng, self.domain = rng, domain
        self.usernames, self.emails = set(), set()

    def person(self, sex=None, family=None):
        sex = sex or self.rng.choice(["female", "male"])
        given = self.rng.choice(FEMALE if sex == "female" else MALE)
        middle = self.rng.choice(FEMALE if sex == "female" else MALE) if self.rng.random() < 0.6 else None
        return {"sex": sex, "given": given, "middle": middle, "family": family or self.rng.choice(LAST)}

    def unique(self, taken, make):
        n = 1
        while True:
            value = make("" if n == 1 else str(n))
            if value not in taken:
                taken.add(value)
                return value
            n += 1

    def username(self, stem):
        return self.unique(self.usernames, lambda suffix: stem + suffix)

    def email(self, local, domain):
        return self.unique(self.emails, lambda suffix: "%s%s@%s" % (local, suffix, domain))


def grade_index(grade):
    return GRADES.index(grade)


def birth_date(rng, grade):
    """Old enough for the grade on 1 September 2026 (KG: five by then)."""
    g = grade_index(grade)
    first = datetime.date(2020 - g, 9, 2)
    return (first + datetime.timedelta(days=rng.randrange(365))).isoformat()


def make_orgs(rng, world):
    town = rng.choice(TOWNS)
    world["domain"] = ascii_slug(town) + "usd.example.org"
    district_number = "%07d" % rng.randrange(600000, 5699999)
    district = {"id": new_id(rng), "name": "%s Unified School District" % town, "type": "district",
                "identifier": district_number, "parent": None, "children": [], "dlm": stamp(rng)}
    names = rng.sample(SCHOOL_NAMES, len(LEVELS))
    schools = []
    for i, (level, suffix, grades, band, subjects) in enumerate(LEVELS):
        school = {"id": new_id(rng), "name": "%s %s" % (names[i], suffix), "type": "school",
                  "identifier": "%s%05d" % (district_number, rng.randrange(100000)),
                  "parent": district["id"], "children": [], "dlm": stamp(rng), "level": level,
                  "grades": grades, "band": band, "subjects": subjects}
        district["children"].append(school["id"])
        schools.append(school)
    world["district"], world["schools"] = district, schools
    world["orgs"] = [district] + schools


def make_sessions(rng, world):
    year = {"id": new_id(rng), "title": SCHOOL_YEAR["title"], "type": "schoolYear",
            "start": SCHOOL_YEAR["start"], "end": SCHOOL_YEAR["end"], "parent": None,
            "children": [], "dlm": stamp(rng)}
    terms = []
    for t in TERMS:
        term = {"id": new_id(rng), "title": t["title"], "type": "term", "start": t["start"],
                "end": t["end"], "parent": year["id"], "children": [], "dlm": stamp(rng)}
        year["children"].append(term["id"])
        terms.append(term)
    world["year"], world["terms"] = year, terms
    world["sessions"] = [year] + terms


def make_student(rng, namer, world, person, grade):
    school = next(s for s in world["schools"] if grade in s["grades"])
    stem = ascii_slug(person["given"])[:1] + ascii_slug(person["family"])[:12]
    username = namer.username(stem + "%02d" % rng.randrange(100))
    number = str(100000 + len(world["students"]) * 7 + rng.randrange(7))
    return {"id": new_id(rng), "role": "student", "given": person["given"], "middle": person["middle"],
            "family": person["family"], "preferred": NICKNAMES.get(person["given"]) if rng.random() < 0.5 else None,
            "username": username, "email": namer.email(username, "students." + world["domain"]),
            "identifier": number, "id_type": "studentNumber", "phone": None, "sms": None,
            "grades": [grade], "orgs": [school["id"]], "agents": [], "dlm": stamp(rng),
            "master": number, "school": school["id"], "sex": person["sex"],
            "birth": birth_date(rng, grade), "race": rng.choice(RACES) if rng.random() < 0.93 else "two",
            "hispanic": rng.random() < 0.25}


def make_guardian(rng, namer, child, family):
    person = namer.person(family=family)
    local = ascii_slug(person["given"]) + "." + ascii_slug(person["family"])
    email = namer.email(local, rng.choice(MAIL_DOMAINS))
    r = rng.random()
    return {"id": new_id(rng), "role": "guardian" if rng.random() < 0.15 else "parent",
            "given": person["given"], "middle": person["middle"], "family": person["family"],
            "preferred": None, "username": namer.username(email), "email": email,
            "identifier": None, "id_type": None,
            "phone": fake_phone(rng) if r < 0.8 else None, "sms": fake_phone(rng) if r >= 0.7 else None,
            "grades": [], "orgs": [child["school"]] if rng.random() < 0.7 else [],
            "agents": [], "dlm": stamp(rng), "master": None, "school": child["school"]}


def make_students_and_guardians(rng, namer, world, n):
    """Students in families: a family has 1-2 guardians (or, rarely, none); about
    one student in eight is the previous student's sibling and shares them."""
    world["students"], world["guardians"], world["family_order"] = [], [], []
    family_name, guardians = None, []
    for i in range(n):
        sibling = i > 0 and rng.random() < 0.12
        person = namer.person(family=family_name if sibling else None)
        student = make_student(rng, namer, world, person, rng.choice(GRADES))
        world["students"].append(student)
        world["family_order"].append(student)
        if not sibling:
            family_name, guardians = person["family"], []
            count = 0 if rng.random() < 0.04 else (2 if rng.random() < 0.75 else 1)
            for _ in range(count):
                g = make_guardian(rng, namer, student, family_name if rng.random() < 0.8 else None)
                guardians.append(g)
                world["guardians"].append(g)
                world["family_order"].append(g)
        for g in guardians:
            g["agents"].append(student["id"])
            student["agents"].append(g["id"])


def make_staff(rng, namer, world, role, school_ids):
    person = namer.person()
    stem = ascii_slug(person["given"])[:1] + ascii_slug(person["family"])
    local = ascii_slug(person["given"]) + "." + ascii_slug(person["family"])
    return {"id": new_id(rng), "role": role, "given": person["given"], "middle": person["middle"],
            "family": person["family"], "preferred": None, "username": namer.username(stem),
            "email": namer.email(local, world["domain"]), "identifier": "E%05d" % rng.randrange(100000),
            "id_type": "employeeId", "phone": fake_phone(rng) if rng.random() < 0.5 else None,
            "sms": None, "grades": [], "orgs": list(school_ids), "agents": [], "dlm": stamp(rng),
            "master": None, "school": school_ids[0]}


def make_teachers(rng, namer, world):
    """max(3, students/15) teachers, at least one per school, the rest where the
    student-teacher ratio is highest; the middle school's first teacher also
    teaches at the high school (a user with two orgs)."""
    schools = world["schools"]
    load = {s["id"]: sum(1 for st in world["students"] if st["school"] == s["id"]) for s in schools}
    total = max(3, round(len(world["students"]) / STUDENTS_PER_TEACHER))
    count = {s["id"]: 1 for s in schools}
    for _ in range(total - len(schools)):
        sid = max(schools, key=lambda s: load[s["id"]] / count[s["id"]])["id"]
        count[sid] += 1
    world["teachers"], world["teachers_of"] = [], {}
    for s in schools:
        staff = [make_staff(rng, namer, world, "teacher", [s["id"]]) for _ in range(count[s["id"]])]
        world["teachers_of"][s["id"]] = staff
        world["teachers"].extend(staff)
    if len(schools) >= 3:
        world["teachers_of"][schools[1]["id"]][0]["orgs"].append(schools[2]["id"])


def split_even(items, parts):
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for k in range(parts):
        end = start + size + (1 if k < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def make_courses_and_classes(rng, world):
    """One course per school and subject; per subject, the school's students
    (ordered by grade) split into sections of at most MAX_CLASS; teachers round
    robin; one teacher enrollment (primary) and a student enrollment each."""
    world["courses"], world["classes"], world["enrollments"] = [], [], []
    room = 100
    for school in world["schools"]:
        students = [s for s in world["students"] if s["school"] == school["id"]]
        sections = math.ceil(len(students) / MAX_CLASS)
        teachers, j = world["teachers_of"][school["id"]], 0
        for period, (code, subject, term) in enumerate(school["subjects"], 1):
            course = {"id": new_id(rng), "title": "%s %s" % (subject, school["band"]),
                      "code": "%s-%s" % (code, school["band"].replace("-", "")),
                      "grades": school["grades"], "subject": subject, "org": school["id"],
                      "dlm": stamp(rng)}
            world["courses"].append(course)
            order = sorted(students, key=lambda s: (grade_index(s["grades"][0]), rng.random()))
            for k, chunk in enumerate(split_even(order, sections) if sections else [], 1):
                room += 1
                terms = world["terms"] if term is None else [world["terms"][term]]
                cls = {"id": new_id(rng), "title": "%s - Section %d" % (course["title"], k),
                       "code": "%s-%02d" % (course["code"], k), "course": course["id"],
                       "school": school["id"], "terms": [t["id"] for t in terms],
                       "grades": sorted({s["grades"][0] for s in chunk}, key=grade_index),
                       "subject": subject, "period": str(period), "location": "Room %d" % room,
                       "dlm": stamp(rng), "begin": terms[0]["start"], "end": terms[-1]["end"]}
                world["classes"].append(cls)
                teacher = teachers[j % len(teachers)]
                j += 1
                add_enrollment(rng, world, cls, teacher, "teacher", True)
                for s in chunk:
                    add_enrollment(rng, world, cls, s, "student", False)


def add_enrollment(rng, world, cls, user, role, primary):
    world["enrollments"].append({"id": new_id(rng), "class": cls["id"], "user": user["id"],
                                 "school": cls["school"], "role": role, "primary": primary,
                                 "begin": cls["begin"], "end": cls["end"], "dlm": stamp(rng)})


def build_world(seed, n_students):
    rng = random.Random("oneroster:%s" % seed)
    world = {}
    make_orgs(rng, world)
    make_sessions(rng, world)
    namer = Namer(rng, world["domain"])
    make_students_and_guardians(rng, namer, world, max(0, int(n_students)))
    make_teachers(rng, namer, world)
    admin = make_staff(rng, namer, world, "administrator", [s["id"] for s in world["schools"]])
    world["admin"] = admin
    make_courses_and_classes(rng, world)
    world["users"] = [admin] + world["teachers"] + world["family_order"]
    return world


# ---------------------------------------------------------------------------
# Rendering: the neutral district as OneRoster JSON of one version
# ---------------------------------------------------------------------------
class Renderer:
    HREF = {"org": "orgs", "academicSession": "academicSessions", "course": "courses",
            "class": "classes", "user": "users", "enrollment": "enrollments"}

    def __init__(self, world, version, base, enabled_as_string, tobedeleted):
        self.world, self.version, self.base = world, version, base
        self.enabled = "true" if enabled_as_string else True
        students = world["students"]
        rest = [u for u in world["users"] if u["role"] != "student"]
        order = list(reversed(students)) + rest
        self.deleted = {u["id"] for u in order[:max(0, int(tobedeleted or 0))]}

    def ref(self, kind, ident):
        return {"href": "%s/%s/%s" % (self.base, self.HREF[kind], ident), "sourcedId": ident, "type": kind}

    def head(self, rec, status="active", dlm=None):
        return {"sourcedId": rec["id"], "status": status, "dateLastModified": dlm or rec["dlm"]}

    def org(self, o):
        out = self.head(o)
        out.update({"name": o["name"], "type": o["type"], "identifier": o["identifier"]})
        if o["parent"]:
            out["parent"] = self.ref("org", o["parent"])
        if o["children"]:
            out["children"] = [self.ref("org", c) for c in o["children"]]
        return out

    def session(self, s):
        out = self.head(s)
        out.update({"title": s["title"], "type": s["type"], "startDate": s["start"],
                    "endDate": s["end"], "schoolYear": SCHOOL_YEAR["year"]})
        if s["parent"]:
            out["parent"] = self.ref("academicSession", s["parent"])
        if s["children"]:
            out["children"] = [self.ref("academicSession", c) for c in s["children"]]
        return out

    def course(self, c):
        out = self.head(c)
        out.update({"title": c["title"], "schoolYear": self.ref("academicSession", self.world["year"]["id"]),
                    "courseCode": c["code"], "grades": c["grades"], "subjects": [c["subject"]],
                    "org": self.ref("org", c["org"])})
        return out

    def klass(self, c):
        out = self.head(c)
        out.update({"title": c["title"], "classCode": c["code"], "classType": "scheduled",
                    "location": c["location"], "grades": c["grades"], "subjects": [c["subject"]],
                    "course": self.ref("course", c["course"]), "school": self.ref("org", c["school"]),
                    "terms": [self.ref("academicSession", t) for t in c["terms"]],
                    "periods": [c["period"]]})
        return out

    def user(self, u):
        deleted = u["id"] in self.deleted
        out = self.head(u, "tobedeleted" if deleted else "active", DELETED_AT if deleted else None)
        if self.version == "1.2" and u["master"]:
            out["userMasterIdentifier"] = u["master"]
        out["username"] = u["username"]
        out["userIds"] = [{"type": u["id_type"], "identifier": u["identifier"]}] if u["identifier"] else []
        out["enabledUser"] = self.enabled
        out["givenName"] = u["given"]
        out["familyName"] = u["family"]
        if u["middle"]:
            out["middleName"] = u["middle"]
        if self.version == "1.2":
            if u["preferred"]:
                out["preferredFirstName"] = u["preferred"]
            out.update(self.roles_12(u))
        else:
            out["role"] = u["role"]
        if u["identifier"]:
            out["identifier"] = u["identifier"]
        out["email"] = u["email"]
        for key in ("sms", "phone"):
            if u[key]:
                out[key] = u[key]
        out["agents"] = [self.ref("user", a) for a in u["agents"]]
        if self.version != "1.2":
            out["orgs"] = [self.ref("org", o) for o in u["orgs"]]
        out["grades"] = u["grades"]
        return out

    def roles_12(self, u):
        """1.2: a primary role at the first org, secondary ones at the others. A
        1.1 user without orgs (some guardians) gets its child's school, as a 1.2
        role must name an org."""
        role = "siteAdministrator" if u["role"] == "administrator" else u["role"]
        orgs = u["orgs"] or [u["school"]]
        roles = [{"roleType": "primary" if i == 0 else "secondary", "role": role,
                  "org": self.ref("org", o)} for i, o in enumerate(orgs)]
        return {"roles": roles, "primaryOrg": self.ref("org", orgs[0])}

    def enrollment(self, e):
        out = self.head(e)
        out.update({"user": self.ref("user", e["user"]), "class": self.ref("class", e["class"]),
                    "school": self.ref("org", e["school"]), "role": e["role"], "primary": e["primary"],
                    "beginDate": e["begin"], "endDate": e["end"]})
        return out

    def demographics(self, s):
        out = self.head(s)
        out.update({"birthDate": s["birth"], "sex": s["sex"]})
        for race in RACES:
            out[race] = s["race"] == race
        out["demographicRaceTwoOrMoreRaces"] = s["race"] == "two"
        out["hispanicOrLatinoEthnicity"] = s["hispanic"]
        return out

    def render(self):
        w = self.world
        return {"orgs": [self.org(o) for o in w["orgs"]],
                "academicSessions": [self.session(s) for s in w["sessions"]],
                "courses": [self.course(c) for c in w["courses"]],
                "classes": [self.klass(c) for c in w["classes"]],
                "users": [self.user(u) for u in w["users"]],
                "enrollments": [self.enrollment(e) for e in w["enrollments"]],
                "demographics": [self.demographics(s) for s in w["students"]]}


class View:
    """One rendering and the indexes the routes need."""

    def __init__(self, world, data):
        self.data = data
        self.by_id = {k: {r["sourcedId"]: r for r in recs} for k, recs in data.items()}
        self.role = {u["id"]: u["role"] for u in world["users"]}
        users = data["users"]
        self.sets = {
            "orgs": data["orgs"],
            "schools": [o for o in data["orgs"] if o["type"] == "school"],
            "academicSessions": data["academicSessions"],
            "terms": [s for s in data["academicSessions"] if s["type"] == "term"],
            "gradingPeriods": [s for s in data["academicSessions"] if s["type"] == "gradingPeriod"],
            "courses": data["courses"], "classes": data["classes"], "users": users,
            "students": [u for u in users if self.role[u["sourcedId"]] == "student"],
            "teachers": [u for u in users if self.role[u["sourcedId"]] == "teacher"],
            "enrollments": data["enrollments"], "demographics": data["demographics"],
        }
        self.user_orgs = {u["id"]: set(u["orgs"]) | {u["school"]} for u in world["users"]}
        self.fields = {k: self._field_names(v) for k, v in data.items()}

    @staticmethod
    def _field_names(records):
        names = set()
        for r in records:
            names.update(r)
        return names

    def enrollments_of_class(self, class_id, role=None):
        return [e for e in self.data["enrollments"]
                if e["class"]["sourcedId"] == class_id and (role is None or e["role"] == role)]

    def class_users(self, class_id, role):
        ids = [e["user"]["sourcedId"] for e in self.enrollments_of_class(class_id, role)]
        return [self.by_id["users"][i] for i in ids]

    def user_classes(self, user_id):
        ids = {e["class"]["sourcedId"] for e in self.data["enrollments"] if e["user"]["sourcedId"] == user_id}
        return [c for c in self.data["classes"] if c["sourcedId"] in ids]

    def school_users(self, school_id, role):
        return [u for u in self.sets[role] if school_id in self.user_orgs[u["sourcedId"]]]


# Collections: path name -> (set in View.sets, plural key, singular key, data key for field names)
COLLECTIONS = {
    "orgs": ("orgs", "orgs", "org", "orgs"),
    "schools": ("schools", "orgs", "org", "orgs"),
    "academicSessions": ("academicSessions", "academicSessions", "academicSession", "academicSessions"),
    "terms": ("terms", "academicSessions", "academicSession", "academicSessions"),
    "gradingPeriods": ("gradingPeriods", "academicSessions", "academicSession", "academicSessions"),
    "courses": ("courses", "courses", "course", "courses"),
    "classes": ("classes", "classes", "class", "classes"),
    "users": ("users", "users", "user", "users"),
    "students": ("students", "users", "user", "users"),
    "teachers": ("teachers", "users", "user", "users"),
    "enrollments": ("enrollments", "enrollments", "enrollment", "enrollments"),
    "demographics": ("demographics", "demographics", "demographics", "demographics"),
}


# ---------------------------------------------------------------------------
# Query handling: paging, filter, sort, fields
# ---------------------------------------------------------------------------
class BadQuery(Exception):
    def __init__(self, code, description):
        super().__init__(description)
        self.code, self.description = code, description


CLAUSE = r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<|~)\s*('(?:[^']|'')*'|\"[^\"]*\")\s*"
FILTER_RE = re.compile(r"^%s(?:\s(AND|OR)\s%s)?$" % (CLAUSE, CLAUSE))


def parse_filter(text, known):
    m = FILTER_RE.match(text)
    if not m:
        raise BadQuery("invalid_filter_field", "malformed filter: %s" % text)
    g = m.groups()
    clauses = [(g[0], g[1], unquote_value(g[2]))]
    if g[3]:
        clauses.append((g[4], g[5], unquote_value(g[6])))
    for field, _, value in clauses:
        if field.split(".")[0] not in known:
            raise BadQuery("invalid_filter_field", "unknown filter field: %s" % field)
        if field.split(".")[-1] in DATE_FIELDS and parse_instant(value) is None:
            raise BadQuery("invalid_filter_field", "not a date or date-time: %s" % value)
    return clauses, g[3]


def unquote_value(token):
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    return token[1:-1]


def parse_instant(text):
    """An ISO 8601 date or date-time as an aware datetime (a date: midnight UTC)."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.datetime.fromisoformat(t)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)


def values_at(record, path):
    """Every value at a dotted path (lists are walked into); [] when absent."""
    current = [record]
    for part in path.split("."):
        nxt = []
        for item in current:
            for v in (item if isinstance(item, list) else [item]):
                if isinstance(v, dict) and part in v:
                    nxt.append(v[part])
        current = nxt
    out = []
    for v in current:
        out.extend(v if isinstance(v, list) else [v])
    return out


def as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def compare(op, left, right, is_date):
    if op == "~":
        return right.lower() in as_text(left).lower()
    if is_date:
        a, b = parse_instant(as_text(left)), parse_instant(right)
        if a is None:
            return False
    else:
        a, b = as_text(left), right
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def clause_matches(record, clause):
    field, op, value = clause
    is_date = field.split(".")[-1] in DATE_FIELDS
    found = values_at(record, field)
    if op == "!=":
        return all(compare("!=", v, value, is_date) for v in found)
    return any(compare(op, v, value, is_date) for v in found)


def apply_filter(records, text, known):
    clauses, joiner = parse_filter(text, known)
    if joiner == "OR":
        return [r for r in records if any(clause_matches(r, c) for c in clauses)]
    return [r for r in records if all(clause_matches(r, c) for c in clauses)]


def apply_sort(records, field, order, known):
    if field.split(".")[0] not in known:
        raise BadQuery("invalid_sort_field", "unknown sort field: %s" % field)
    if order not in ("asc", "desc"):
        raise BadQuery("invalid_sort_field", "orderBy must be asc or desc: %s" % order)
    is_date = field.split(".")[-1] in DATE_FIELDS

    def key(r):
        vals = values_at(r, field)
        if not vals:
            return (0, "")
        if is_date:
            d = parse_instant(as_text(vals[0]))
            return (1, d.timestamp()) if d else (0, "")
        return (1, as_text(vals[0]))
    return sorted(records, key=key, reverse=(order == "desc"))


def project(records, fields):
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    return [{k: r[k] for k in wanted if k in r} for r in records]


def whole_number(args, name, default, minimum):
    raw = args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\s*\d+\s*", raw) or int(raw) < minimum:
        raise BadQuery("invalid_data", "%s must be a whole number >= %d: %r" % (name, minimum, raw))
    return int(raw)


# ---------------------------------------------------------------------------
# OAuth 1.0a (two-legged)
# ---------------------------------------------------------------------------
def enc(text):
    """RFC 3986 percent-encoding (RFC 5849 section 3.6)."""
    return quote(str(text), safe="~")


def oauth1_header_params(header):
    if not header or not header.lower().startswith("oauth "):
        return None
    return {k: unquote(v) for k, v in re.findall(r'([A-Za-z0-9_]+)\s*=\s*"([^"]*)"', header[6:])}


def oauth1_base_string(method, host, path, query_pairs, oauth_params):
    pairs = [(enc(k), enc(v)) for k, v in query_pairs]
    pairs += [(enc(k), enc(v)) for k, v in oauth_params.items() if k not in ("oauth_signature", "realm")]
    normalized = "&".join("%s=%s" % kv for kv in sorted(pairs))
    uri = "http://%s%s" % (host.lower(), path)
    return "&".join([method.upper(), enc(uri), enc(normalized)])


def oauth1_signature(secret, method_name, base):
    digest = hashlib.sha256 if method_name == "HMAC-SHA256" else hashlib.sha1
    key = (enc(secret) + "&").encode()
    return base64.b64encode(hmac.new(key, base.encode(), digest).digest()).decode()


# ---------------------------------------------------------------------------
# The mock
# ---------------------------------------------------------------------------
class OneRosterMock(mockbase.Mock):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = {}        # access token -> expiry (epoch seconds)
        self.nonces = {}        # oauth_nonce -> timestamp it came with
        self._world_key = self._world = None
        self._view_key = self._view = None
        self._rate_key = self._rate = None

    # -- config and data ---------------------------------------------------
    def cfg(self, key):
        value = self.config.get(key)
        return DEFAULTS[key] if value is None else value

    def version(self):
        return "1.2" if str(self.cfg("version")) == "1.2" else "1.1"

    def base(self):
        return BASES[self.version()]

    def token_path(self):
        return "/" + str(self.cfg("token_path")).strip("/")

    def view(self):
        wkey = (self.cfg("seed"), int(self.cfg("students")))
        if wkey != self._world_key:
            self._world_key, self._world = wkey, build_world(*wkey)
        vkey = (wkey, self.version(), bool(self.cfg("enabled_user_as_string")), int(self.cfg("tobedeleted")))
        if vkey != self._view_key:
            renderer = Renderer(self._world, self.version(), self.base(), vkey[2], vkey[3])
            self._view_key, self._view = vkey, View(self._world, renderer.render())
        return self._view

    def data(self):
        return self.view().data

    # -- responses -----------------------------------------------------------
    def json(self, status, obj, headers=None):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return Response(status, body, headers)

    def imsx(self, status, code, description, headers=None):
        if self.version() == "1.2":
            body = {"imsx_codeMajor": "failure", "imsx_severity": "error",
                    "imsx_description": description, "imsx_codeMinor": code}
        else:
            body = {"statusInfoSet": [{
                "imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": description,
                "imsx_CodeMinor": {"imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}]}}]}
        return self.json(status, body, headers)

    def unauthorized(self, description, extra=None, challenge=None):
        if challenge is None:
            challenge = 'OAuth realm="oneroster"' if self.cfg("auth") == "oauth1" else \
                'Bearer realm="oneroster", error="invalid_token"'
        resp = self.imsx(401, "unauthorisedrequest" if self.version() == "1.1" else "unauthorized",
                         description, {"WWW-Authenticate": challenge})
        if extra:
            body = json.loads(resp.body)
            body.update(extra)
            resp.body = json.dumps(body).encode()
        return resp

    # -- mockbase hooks --------------------------------------------------------
    def is_data_request(self, req):
        return req.path.rstrip("/") != self.token_path()

    def error(self, status, req):
        codes = {429: "server_busy", 500: "internal_server_error", 503: "server_busy"}
        return self.imsx(status, codes.get(status, "internal_server_error"), "injected %d" % status)

    def expire_token(self, req):
        token = self.bearer(req)
        if token in self.tokens:
            self.tokens[token] = 0

    def empty_page(self, req):
        """The page this request would get, with its headers (X-Total-Count,
        Link) but no records; a non-collection request gets its usual answer."""
        try:
            found = self.collection(req)
            if isinstance(found, Response):
                return found
            plural, records, fieldset = found
            resp = self.page(req, plural, self.query(req, records, fieldset))
        except BadQuery as e:
            return self.imsx(400, e.code, e.description)
        resp.body = json.dumps({plural: []}).encode()
        return resp

    def handle(self, req):
        if req.path.rstrip("/") == self.token_path():
            return self.token(req)
        denied = self.authenticate(req)
        if denied:
            return denied
        limited = self.rate_limited()
        if limited:
            return limited
        if req.method != "GET":
            return self.imsx(405, "invalid_data", "method not allowed: %s" % req.method)
        try:
            found = self.collection(req)
            if isinstance(found, Response):
                return found
            plural, records, fieldset = found
            return self.page(req, plural, self.query(req, records, fieldset))
        except BadQuery as e:
            return self.imsx(400, e.code, e.description)

    # -- OAuth 2 ---------------------------------------------------------------
    def token(self, req):
        if self.cfg("auth") != "oauth2":
            return self.imsx(404, "unknownobject", "no token endpoint in oauth1 mode")
        if req.method != "POST":
            return self.imsx(405, "invalid_data", "the token endpoint takes POST")
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            return self.json(400, {"error": "unsupported_grant_type",
                                   "error_description": "grant_type must be client_credentials"})
        if self.basic_credentials(req) != (str(self.cfg("client_id")), str(self.cfg("client_secret"))):
            return self.unauthorized("invalid client credentials",
                                     {"error": "invalid_client", "error_description": "unknown client"},
                                     'Basic realm="oneroster"')
        lifetime = int(self.cfg("token_lifetime"))
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + lifetime
        return self.json(200, {"access_token": token, "token_type": "bearer",
                               "expires_in": str(lifetime) if self.cfg("expires_in_as_string") else lifetime,
                               "scope": form.get("scope") or SCOPES[self.version()]},
                         {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def basic_credentials(req):
        header = req.header("Authorization", "") or ""
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except ValueError:
            return None
        return unquote(user), unquote(password)

    @staticmethod
    def bearer(req):
        header = req.header("Authorization", "") or ""
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    def authenticate(self, req):
        if self.cfg("auth") == "oauth1":
            return self.check_oauth1(req)
        token = self.bearer(req)
        if not token:
            return self.unauthorized("an Authorization: Bearer token is required")
        if token not in self.tokens:
            return self.unauthorized("unknown access token")
        if time.time() >= self.tokens[token]:
            return self.unauthorized("the access token has expired")
        return None

    # -- OAuth 1.0a ------------------------------------------------------------
    def check_oauth1(self, req):
        params = oauth1_header_params(req.header("Authorization"))
        if params is None:
            return self.unauthorized("an OAuth 1.0a Authorization header is required")
        problem = self.oauth1_problem(params)
        if problem:
            return self.unauthorized(problem)
        query = parse_qsl(req.query_string, keep_blank_values=True)
        if (req.header("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            query += parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        base = oauth1_base_string(req.method, req.header("Host", "127.0.0.1"), req.path, query, params)
        expected = oauth1_signature(str(self.cfg("client_secret")), params["oauth_signature_method"], base)
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            return self.unauthorized("invalid oauth_signature")
        self.nonces[params["oauth_nonce"]] = int(params["oauth_timestamp"])
        return None

    def oauth1_problem(self, p):
        now = time.time()
        for key in ("oauth_consumer_key", "oauth_nonce", "oauth_timestamp",
                    "oauth_signature_method", "oauth_signature"):
            if not p.get(key):
                return "missing %s" % key
        if p["oauth_consumer_key"] != str(self.cfg("client_id")):
            return "unknown oauth_consumer_key"
        if p["oauth_signature_method"] not in ("HMAC-SHA256", "HMAC-SHA1"):
            return "unsupported oauth_signature_method"
        if p.get("oauth_version", "1.0") != "1.0":
            return "oauth_version must be 1.0"
        if not p["oauth_timestamp"].isdigit() or abs(now - int(p["oauth_timestamp"])) > OAUTH1_SKEW:
            return "oauth_timestamp is missing or more than %d s off" % OAUTH1_SKEW
        self.nonces = {n: t for n, t in self.nonces.items() if t > now - 2 * OAUTH1_SKEW}
        if p["oauth_nonce"] in self.nonces:
            return "oauth_nonce has been used before"
        return None

    # -- rate limit ------------------------------------------------------------
    def rate_limited(self):
        conf = self.config.get("rate_limit")
        key = json.dumps(conf, sort_keys=True)
        if key != self._rate_key:
            self._rate_key = key
            self._rate = mockbase.RateWindow(int(conf["limit"]), float(conf["window"])) if conf else None
        if not self._rate:
            return None
        now = time.time()
        allowed, _, reset = self._rate.take(now)
        if allowed:
            return None
        wait = max(1, math.ceil(reset - now))
        return self.imsx(429, "server_busy", "too many requests, retry later", {"Retry-After": str(wait)})

    # -- routing ---------------------------------------------------------------
    def collection(self, req):
        """(plural key, records, field-name set) for a collection path, or a
        Response (a single record, or 404)."""
        base = self.base()
        if req.path != base and not req.path.startswith(base + "/"):
            return self.imsx(404, "unknownobject", "no such endpoint: %s" % req.path)
        segs = [unquote(s) for s in req.path[len(base):].strip("/").split("/")]
        view = self.view()
        if not segs[0] or segs[0] not in COLLECTIONS:
            return self.imsx(404, "unknownobject", "no such endpoint: %s" % req.path)
        set_name, plural, singular, data_key = COLLECTIONS[segs[0]]
        if len(segs) == 1:
            return plural, view.sets[set_name], view.fields[data_key]
        record = next((r for r in view.sets[set_name] if r["sourcedId"] == segs[1]), None)
        if record is None:
            return self.imsx(404, "unknownobject", "no %s with sourcedId %s" % (singular, segs[1]))
        if len(segs) == 2:
            return self.json(200, {singular: record})
        return self.sub_collection(req, view, segs)

    def sub_collection(self, req, view, segs):
        parent, ident, rest = segs[0], segs[1], segs[2:]
        users, classes, enrs = view.fields["users"], view.fields["classes"], view.fields["enrollments"]
        if parent == "schools" and len(rest) == 3 and rest[0] == "classes":
            cls = view.by_id["classes"].get(rest[1])
            if cls is None or cls["school"]["sourcedId"] != ident:
                return self.imsx(404, "unknownobject", "no class %s in school %s" % (rest[1], ident))
            parent, ident, rest = "classes", rest[1], rest[2:]
        sub = rest[0] if len(rest) == 1 else None
        data = view.data

        def where(key, path):
            return [r for r in data[key] if ident in values_at(r, path)]
        routes = {
            ("schools", "students"): lambda: ("users", view.school_users(ident, "students"), users),
            ("schools", "teachers"): lambda: ("users", view.school_users(ident, "teachers"), users),
            ("schools", "classes"): lambda: ("classes", where("classes", "school.sourcedId"), classes),
            ("schools", "enrollments"): lambda: ("enrollments", where("enrollments", "school.sourcedId"), enrs),
            ("schools", "courses"): lambda: ("courses", where("courses", "org.sourcedId"), view.fields["courses"]),
            ("schools", "terms"): lambda: ("academicSessions", view.sets["terms"], view.fields["academicSessions"]),
            ("classes", "students"): lambda: ("users", view.class_users(ident, "student"), users),
            ("classes", "teachers"): lambda: ("users", view.class_users(ident, "teacher"), users),
            ("classes", "enrollments"): lambda: ("enrollments", view.enrollments_of_class(ident), enrs),
            ("courses", "classes"): lambda: ("classes", where("classes", "course.sourcedId"), classes),
            ("terms", "classes"): lambda: ("classes", where("classes", "terms.sourcedId"), classes),
            ("users", "classes"): lambda: ("classes", view.user_classes(ident), classes),
            ("students", "classes"): lambda: ("classes", view.user_classes(ident), classes),
            ("teachers", "classes"): lambda: ("classes", view.user_classes(ident), classes),
        }
        route = routes.get((parent, sub))
        if route is None:
            return self.imsx(404, "unknownobject", "no such endpoint: %s" % req.path)
        return route()

    def query(self, req, records, fieldset):
        args = req.args
        if args.get("filter"):
            records = apply_filter(records, args["filter"], fieldset)
        if args.get("sort"):
            records = apply_sort(records, args["sort"], (args.get("orderBy") or "asc").lower(), fieldset)
        return records

    def page(self, req, plural, records):
        limit = min(whole_number(req.args, "limit", 100, 1), int(self.cfg("max_limit")))
        offset = whole_number(req.args, "offset", 0, 0)
        total = len(records)
        chunk = records[offset:offset + limit]
        if req.args.get("fields"):
            chunk = project(chunk, req.args["fields"])
        headers = {"X-Total-Count": str(total), "Link": self.links(req, limit, offset, total)}
        return self.json(200, {plural: chunk}, headers)

    def links(self, req, limit, offset, total):
        host = req.header("Host", "127.0.0.1")
        kept = [(k, v) for k, v in req.query if k not in ("limit", "offset")]

        def link(off, rel):
            q = urlencode(kept + [("limit", limit), ("offset", off)], quote_via=quote)
            return '<http://%s%s?%s>; rel="%s"' % (host, req.path, q, rel)
        last = ((total - 1) // limit) * limit if total else 0
        out = []
        if offset + limit < total:
            out.append(link(offset + limit, "next"))
        out.append(link(last, "last"))
        out.append(link(0, "first"))
        if offset > 0:
            out.append(link(max(0, offset - limit), "prev"))
        return ", ".join(out)


if __name__ == "__main__":
    mockbase.serve(OneRosterMock)
