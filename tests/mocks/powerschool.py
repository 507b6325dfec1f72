#!/usr/bin/env python3
"""powerschool.py: a mock of the PowerSchool SIS plugin REST API (/ws/v1 and
the named PowerQuery for guardians), as ../shared/research/connectors.md
section 8.2 specifies it (wire facts in section 2).

    python3 tests/mocks/powerschool.py [--config FILE.json]
    PORT 40123                      <- the first line of stdout

Start-up, the /_mock/ control endpoints, fault injection and statistics are
mockbase.py's (see README.md).  Standard library only.

URL layout (the `url` of a powerschool source is http://127.0.0.1:PORT)
  POST /oauth/access_token  and  /oauth/access_token/      (not a data request)
      Authorization: Basic base64(client_id:client_secret), form body
      grant_type=client_credentials
      -> 200 {"access_token":"<uuid>","token_type":"Bearer","expires_in":"3600"}
         (expires_in is a JSON string, as PowerSchool sends it)
      bad or missing credentials -> 401 {"error":"invalid_client"}
      body not a form -> 400 {"error":"invalid_request"}; another grant ->
      400 {"error":"unsupported_grant_type"}; not POST -> 405
  GET  /ws/v1/metadata                  {"metadata":{..., "<res>_max_page_size":N}}
  GET  /ws/v1/district/school[/count]
  GET  /ws/v1/district/student[/count]
  GET  /ws/v1/school/{id}/student|staff|section|course|term[/count]
  GET  /ws/v1/section/{id}/section_enrollment[/count]
  GET  /ws/v1/student|school|staff|section|course|term|section_enrollment/{id}
  POST /ws/schema/query/com.pearson.core.guardian.student_guardian_detail[/count]
  (a trailing "/" on a /ws path is ignored)

Every /ws request, in this order:
  rate limit (only when configured) -> 429 + Retry-After
  Authorization: Bearer <live token>, else 401 {"message":...} (missing,
      unknown or expired token; also WWW-Authenticate: Bearer ...)
  a path under one of `forbidden_paths` -> 403 {"message":...}
  the route: unknown path or id -> 404 {"message":...}; wrong method -> 405;
      bad page/pagesize/q or PowerQuery arguments -> 400 {"message":...}
  Accept: only a request whose Accept names application/json gets JSON.  Any
      other (none, */*, application/xml) gets the same 200 answer as XML.  We
      chose XML over 406 because that is what the real server appears to do
      (every client forces the Accept header, which suggests XML is the
      default representation [I]).  A connector that forgets the header then
      fails here the way it would fail in production: a 200 whose body is not
      JSON.  A 406 is a status PowerSchool probably never sends.

Collections: ?page= (1-based, default 1), ?pagesize= (default the maximum; a
larger value is clamped to the maximum -- clamp vs 400 is unconfirmed
[open]; below 1 or not a number -> 400), ?q=, ?expansions=, ?extensions=.
  body {"<plural>":{"@expansions":"<available>","@extensions":"<available>",
                    "<singular>":[...]}}
  A page holding exactly one record carries an object, not a one-element
  array (config single_object_quirk).  A page with no records (past the end,
  or nothing matches q) omits the singular key.  /count ->
  {"resource":{"count":N}}, honouring q.
  q: `path==value` terms joined by `;` (AND); dotted paths reach into nested
  objects (through lists too, e.g. school_affiliations.school_affiliation.
  school_id==2); `*` in the value is a wildcard; comparison is on the text of
  the value, case-insensitive.  A path that a record lacks does not match.  A
  term without `==` (FIQL's =gt=, `,` OR, ...) -> 400: not in the mock.
  q matches the whole record, whatever expansions were asked for.
  expansions: student demographics, addresses, phones, school_enrollment,
  contact, contact_info, ethnicity_race; staff addresses, emails, phones,
  school_affiliations; a record holds only the sub-objects asked for (names
  outside the list are ignored).  extensions: students offer
  studentcorefields (-> "_extension_data"); other names are ignored.
  Orders: schools, students, staff, sections, courses, section enrollments
  by id; terms by portion then start date.  Staff lists are per school
  affiliation (one person affiliated with two schools is in both lists).
  Term ids repeat from school to school (3500 = the 2025-2026 year, 3501 and
  3502 its semesters, at every school), as in PowerSchool; /ws/v1/term/{id}
  answers the first school's term of that id.  Each course belongs to one
  school: the one whose sections name it (sections[].course_id/school_id in
  /_mock/data).

PowerQuery com.pearson.core.guardian.student_guardian_detail (POST only):
  JSON body {} (or empty) for every row, or {"students_dcid":[dcid, ...]}
  (ints or digit strings; a single value is taken as a list of one); another
  key, a non-object body, bad JSON or a non-numeric dcid -> 400; another
  query name -> 404.  ?page=, ?pagesize= (maximum schema_table_query_max_
  page_size), ?count=true adds "count" (the total) to the page.
  -> {"name":"...","record":[{guardianid, firstname, lastname, email,
      relationship, studentsdcid}, ...],"@extensions":""}
  one row per (guardian, student) pair, ordered by guardian then student;
  guardianid is a digit string and studentsdcid an int, as in the recorded
  pages (tests/scenarios/powerschool_replay); a few guardians have no email
  (the key is absent).  An empty page has "record": [].  /count ->
  {"count":N}.

Config keys (JSON object via --config, or POST /_mock/config at any time):
  common (mockbase):
    seed            1        data set generator seed (a change regenerates)
    students        120      students in the district (a change regenerates)
    client_id       "test-client"
    client_secret   "test-secret"
    token_lifetime  3600     seconds a new token lives (also its expires_in)
    faults          []       see README.md / mockbase.FAULT_KINDS
  this mock:
    max_page_size   100      the maximum (and default) page size of every
                             resource, reported in /ws/v1/metadata; an int,
                             or {"student": 25, ..., "default": 100} per
                             resource (student, staff, school, section,
                             section_enrollment, course, term,
                             schema_table_query)
    single_object_quirk true a one-record page carries an object, not an array
    forbidden_paths []       path prefixes outside the plugin's access -> 403
    rate_limit      null     {"limit": N, "window": S}: after N /ws requests
                             in a window of S seconds -> 429 with Retry-After.
                             TEST-ONLY: PowerSchool documents no rate limit
                             and no 429 behaviour; this only exercises the
                             connector's retry path.

Data set (deterministic from seed and students; school year 2025-2026):
  3 schools: id 1/school_number 101 Lincoln Elementary (grades 0-5), id 2/102
  Jefferson Middle (6-8), id 3/103 Roosevelt High (9-12).  Students (DCID
  5001..) in families (siblings share a last name, address, phone and
  guardians); grade_level is a string ("0" = kindergarten), birth_date fits
  the grade; status_code 0 / enroll_status A, except about 1 in 30
  transferred out (status_code 2 / T, with an exit date); every student has a
  unique contact_info.email.  Staff (id 301..): max(3, round(students/15)),
  at least one per school; the first staff member of school 2 is also
  affiliated with school 3 (listed by both, first by school 2).  Courses
  (id 401..): seven per school, one per period.  Sections (id 601..): per
  school and period max(1, round(students_at_school/25)) sections; periods
  1-5 (and all periods at the elementary school) run the year term, period 6
  semester 1 and period 7 semester 2.  Each student is enrolled in one section
  per period (7), ids 10001..; a transferred student's enrollments are
  dropped (dropped true, exit_date the day they left, or the term's first day
  when they left before it).  Guardians (id 7001..): one or two per family,
  about 1.5 (guardian, student) rows per student, some shared by siblings.
  Emails are unique across students, staff and guardians (a few guardians
  have none).  At max_page_size 25 the district student list spans 5 pages
  and the elementary school's 26-student sections end in a one-record page
  (the object quirk, as the connector meets it); `students` = 101 gives a
  one-record last page of students as well.

Fault hooks: error() bodies are {"message": ...}; expire_token() expires the
request's bearer token (that request then answers 401); empty_page() answers
a collection with the envelope without its singular key and a PowerQuery
with "record": [] (other requests answer normally).
"""
import base64
import datetime
import json
import math
import os
import random
import re
import sys
import threading
import time
import traceback
import uuid
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockbase  # noqa: E402
from mockbase import Response  # noqa: E402

SCHOOL_YEAR = 2025  # the 2025-2026 school year
QUERY_NAME = "com.pearson.core.guardian.student_guardian_detail"
POWERSCHOOL_VERSION = "24.7.0.1.242331"
PLUGIN_ID = 4242
PAGED_RESOURCES = ("student", "staff", "school", "section", "section_enrollment",
                   "course", "term", "schema_table_query")

# resource -> (plural, singular, expansion names, extension names)
COLLECTIONS = {
    "school": ("schools", "school", ("school_boundary",), ()),
    "student": ("students", "student",
                ("demographics", "addresses", "phones", "school_enrollment", "contact",
                 "contact_info", "ethnicity_race"),
                ("studentcorefields",)),
    "staff": ("staffs", "staff", ("addresses", "emails", "phones", "school_affiliations"), ()),
    "section": ("sections", "section", (), ()),
    "course": ("courses", "course", (), ()),
    "term": ("terms", "term", (), ()),
    "section_enrollment": ("section_enrollments", "section_enrollment", (), ()),
}

# ---------------------------------------------------------------------------
# The data set

MALE = ("James", "Liam", "Noah", "Oliver", "Elijah", "William", "Henry", "Lucas", "Benjamin",
        "Theodore", "Mateo", "Levi", "Sebastian", "Daniel", "Jack", "Michael", "Alexander",
        "Owen", "Asher", "Samuel", "Ethan", "Leo", "Jackson", "Mason", "Ezra", "John", "Hudson",
        "Luca", "Aiden", "Joseph", "David", "Jacob", "Logan", "Luke", "Julian", "Gabriel",
        "Grayson", "Wyatt", "Matthew", "Maverick", "Dylan", "Isaac", "Elias", "Anthony",
        "Thomas", "Jayden", "Carter", "Santiago", "Ezekiel", "Charles", "Andre", "Kwame",
        "Hiroshi", "Arjun", "Omar", "Diego", "Tobias", "Malik", "Rafael", "Caleb")
FEMALE = ("Olivia", "Emma", "Charlotte", "Amelia", "Sophia", "Mia", "Isabella", "Ava",
          "Evelyn", "Luna", "Harper", "Sofia", "Camila", "Eleanor", "Elizabeth", "Violet",
          "Scarlett", "Emily", "Hazel", "Lily", "Gianna", "Aurora", "Penelope", "Aria", "Nora",
          "Chloe", "Ellie", "Mila", "Avery", "Layla", "Abigail", "Ella", "Isla", "Eliana",
          "Nova", "Madison", "Zoe", "Ivy", "Grace", "Lucy", "Willow", "Emilia", "Riley",
          "Naomi", "Victoria", "Stella", "Maya", "Paisley", "Hannah", "Leah", "Priya", "Aaliyah",
          "Mei", "Fatima", "Ximena", "Ingrid", "Amara", "Keiko", "Rosa", "Adaeze")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
        "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
        "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
        "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
        "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers",
        "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
        "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
        "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
        "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
        "O'Brien", "Van der Berg", "Okafor", "Yamamoto", "Lindqvist", "Haddad", "Kowalski")
STREETS = ("Maple Ave", "Oak St", "Cedar Ln", "Pine St", "Elm St", "Lakeview Dr", "Birch Rd",
           "Willow Way", "Park Ave", "Hillcrest Dr", "Ridge Rd", "Sunset Blvd", "River Rd",
           "Meadow Ln", "Highland Ave", "Orchard St")

SCHOOLS = (  # id, school_number, name, low grade, high grade, level
    (1, 101, "Lincoln Elementary School", 0, 5, "elementary"),
    (2, 102, "Jefferson Middle School", 6, 8, "middle"),
    (3, 103, "Roosevelt High School", 9, 12, "high"),
)
SUBJECTS = {  # level -> seven (course name, course number stem), one per period
    "elementary": (("Reading", "RDG"), ("Mathematics", "MTH"), ("Science", "SCI"),
                   ("Social Studies", "SST"), ("Physical Education", "PE"), ("Art", "ART"),
                   ("Music", "MUS")),
    "middle": (("Language Arts", "LA"), ("Mathematics", "MTH"), ("Life Science", "SCI"),
               ("World History", "HIS"), ("Physical Education", "PE"), ("Art", "ART"),
               ("Band", "BND")),
    "high": (("English", "ENG"), ("Algebra II", "ALG"), ("Biology", "BIO"),
             ("U.S. History", "USH"), ("Spanish", "SPA"), ("Health", "HLT"),
             ("Physical Education", "PE")),
}
DISTRICT_DOMAIN = "lakeview.example.org"
STUDENT_DOMAIN = "students.lakeview.example.org"
GUARDIAN_DOMAINS = ("example.com", "example.net", "mail.example.org")


def iso(d):
    return d.isoformat()


def date_between(rng, lo, hi):
    return lo + datetime.timedelta(days=rng.randint(0, (hi - lo).days))


def slug(text):
    return re.sub(r"[^a-z]", "", text.lower())


class Registry:
    """Hands out unique strings: name, name2, name3, ..."""

    def __init__(self):
        self.taken = set()

    def take(self, base):
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = "%s%d" % (base, n)
        self.taken.add(name)
        return name


def school_for_grade(grade):
    for s in SCHOOLS:
        if s[3] <= grade <= s[4]:
            return s
    raise ValueError(grade)


def term_dates():
    y = SCHOOL_YEAR
    return {
        3500: (1, "%d-%d" % (y, y + 1), "%02d-%02d" % (y % 100, (y + 1) % 100),
               datetime.date(y, 8, 20), datetime.date(y + 1, 6, 12)),
        3501: (2, "Semester 1", "S1", datetime.date(y, 8, 20), datetime.date(y + 1, 1, 16)),
        3502: (2, "Semester 2", "S2", datetime.date(y + 1, 1, 20), datetime.date(y + 1, 6, 12)),
    }


class Generator:
    """Builds the whole data set from one seeded random.Random."""

    def __init__(self, seed, n_students):
        self.rng = random.Random(seed)
        self.n = max(0, int(n_students))
        self.emails = Registry()
        self.usernames = Registry()
        self.course_school = {}

    # -- people -------------------------------------------------------------
    def person(self, gender=None):
        gender = gender or self.rng.choice("MF")
        names = MALE if gender == "M" else FEMALE
        first = self.rng.choice(names)
        middle = self.rng.choice([n for n in names if n != first]) if self.rng.random() < 0.7 else None
        return gender, first, middle, self.rng.choice(LAST)

    def phone(self):
        return "(612) 555-%04d" % self.rng.randint(1000, 9999)

    def address(self):
        return {"street": "%d %s" % (self.rng.randint(100, 9999), self.rng.choice(STREETS)),
                "city": "Lakeview", "state_province": "MN",
                "postal_code": "5540%d" % self.rng.randint(1, 9)}

    @staticmethod
    def name(first, middle, last):
        out = {"first_name": first}
        if middle:
            out["middle_name"] = middle
        out["last_name"] = last
        return out

    # -- schools ------------------------------------------------------------
    def schools(self):
        out = []
        for sid, number, name, lo, hi, _ in SCHOOLS:
            _, pf, _, pl = self.person()
            out.append({
                "id": sid, "school_number": number, "name": name,
                "state_province_id": "27-0%03d-%03d" % (sid * 7, number),
                "low_grade": lo, "high_grade": hi, "alternate_school_number": 0,
                "addresses": {"physical": self.address()},
                "phones": {"main": {"number": self.phone()}},
                "principal": {"email": self.emails.take("%s.%s" % (slug(pf), slug(pl))) + "@" + DISTRICT_DOMAIN,
                              "name": {"first_name": pf, "last_name": pl}},
            })
        return out

    # -- families, students and guardians ----------------------------------
    def guardian(self, family_last, relationship, gender):
        _, first, _, last = self.person(gender)
        if self.rng.random() < 0.85 and relationship not in ("Grandmother", "Guardian"):
            last = family_last
        g = {"firstname": first, "lastname": last, "relationship": relationship}
        if self.rng.random() > 0.05:
            local = self.emails.take("%s.%s" % (slug(first), slug(last)))
            g["email"] = "%s@%s" % (local, self.rng.choice(GUARDIAN_DOMAINS))
        return g

    def family_guardians(self, last):
        first_rel = self.rng.choice((("Mother", "F"), ("Mother", "F"), ("Father", "M")))
        out = [self.guardian(last, *first_rel)]
        if self.rng.random() < 0.5:
            other = self.rng.choice((("Father", "M"), ("Father", "M"), ("Stepfather", "M"),
                                     ("Grandmother", "F"), ("Guardian", "F")))
            if first_rel[0] == "Father":
                other = ("Mother", "F")
            out.append(self.guardian(last, *other))
        return out

    def families(self):
        """[(last name, address, phone, guardians, [child grade, ...])]"""
        out, left = [], self.n
        while left > 0:
            size = min(left, self.rng.choice((1,) * 14 + (2,) * 5 + (3,)))
            last = self.rng.choice(LAST)
            grades = [self.rng.randint(0, 12) for _ in range(size)]
            out.append((last, self.address(), self.phone(), self.family_guardians(last), grades))
            left -= size
        return out

    def birth_date(self, grade):
        # a kindergartner in the fall of SCHOOL_YEAR turned 5 by September 1
        lo = datetime.date(SCHOOL_YEAR - 6 - grade, 9, 2)
        hi = datetime.date(SCHOOL_YEAR - 5 - grade, 9, 1)
        return date_between(self.rng, lo, hi)

    def student(self, last, address, phone, guardians, grade):
        gender, first, middle, _ = self.person()
        school = school_for_grade(grade)
        years_in = self.rng.randint(0, grade)
        user = self.usernames.take(slug(first)[:1] + slug(last)[:10])
        mother = next((g for g in guardians if g["relationship"] == "Mother"), None)
        father = next((g for g in guardians if g["relationship"] == "Father"), None)
        g1 = guardians[0]
        rec = {
            "local_id": None, "student_username": user,
            "state_province_id": "%010d" % self.rng.randint(10 ** 8, 10 ** 10 - 1),
            "name": self.name(first, middle, last),
            "demographics": {
                "gender": gender, "birth_date": iso(self.birth_date(grade)),
                "district_entry_date": iso(datetime.date(SCHOOL_YEAR - years_in, 8, 20)),
                "projected_graduation_year": SCHOOL_YEAR + 1 + 12 - grade,
            },
            "addresses": {"physical": dict(address), "mailing": dict(address)},
            "phones": {"main": {"number": phone}},
            "school_enrollment": {
                "status_code": 0, "enroll_status": "A", "enroll_status_description": "Active",
                "grade_level": str(grade), "entry_date": iso(datetime.date(SCHOOL_YEAR, 8, 20)),
                "exit_date": iso(datetime.date(SCHOOL_YEAR + 1, 6, 12)),
                "school_number": school[1], "school_id": school[0], "entry_code": "E1",
                "district_of_residence": "2700",
            },
            "contact": {
                "emergency_contact_name1": "%s %s" % (g1["firstname"], g1["lastname"]),
                "emergency_phone1": phone,
            },
            "contact_info": {"email": self.emails.take(user) + "@" + STUDENT_DOMAIN},
            "ethnicity_race": {"federal_ethnicity": self.rng.choice(("NO", "NO", "NO", "YES")),
                               "races": [{"district_race_code": self.rng.choice("WWWBAIP")}]},
        }
        if mother:
            rec["contact"]["mother"] = "%s, %s" % (mother["lastname"], mother["firstname"])
        if father:
            rec["contact"]["father"] = "%s, %s" % (father["lastname"], father["firstname"])
        if g1.get("email"):
            rec["contact"]["guardian_email"] = g1["email"]
        return rec

    def transfer_out(self, rec):
        left = date_between(self.rng, datetime.date(SCHOOL_YEAR, 10, 1), datetime.date(SCHOOL_YEAR, 12, 15))
        rec["school_enrollment"].update({
            "status_code": 2, "enroll_status": "T", "enroll_status_description": "Transferred out",
            "exit_date": iso(left), "exit_code": "TO"})

    def students_and_guardians(self):
        """(students sorted by id, guardian rows); ids assigned after a
        shuffle so that siblings are not neighbours."""
        people, families = [], []
        for last, address, phone, guardians, grades in self.families():
            kids = [self.student(last, address, phone, guardians, g) for g in grades]
            people.extend(kids)
            families.append((guardians, kids))
        self.rng.shuffle(people)
        local_ids = sorted(self.rng.sample(range(200000, 299999), len(people)))
        for i, rec in enumerate(people):
            rec["id"] = 5001 + i
            rec["local_id"] = local_ids[i]
            rec["global_id"] = 900000 + local_ids[i] - 200000
        for rec in self.rng.sample(people, max(1, self.n // 30) if self.n else 0):
            self.transfer_out(rec)
        return [order_student(r) for r in sorted(people, key=lambda r: r["id"])], self.guardian_rows(families)

    @staticmethod
    def guardian_rows(families):
        rows, gid = [], 7001
        for guardians, kids in families:
            for g in guardians:
                for kid in sorted(kids, key=lambda k: k["id"]):
                    row = {"guardianid": str(gid), "firstname": g["firstname"], "lastname": g["lastname"]}
                    if "email" in g:
                        row["email"] = g["email"]
                    row.update({"relationship": g["relationship"], "studentsdcid": kid["id"]})
                    rows.append(row)
                gid += 1
        rows.sort(key=lambda r: (int(r["guardianid"]), r["studentsdcid"]))
        return rows

    # -- staff ----------------------------------------------------------------
    def staff_counts(self, students):
        per = {s[0]: 0 for s in SCHOOLS}
        for st in students:
            per[st["school_enrollment"]["school_id"]] += 1
        total = max(3, round(self.n / 15))
        counts = {sid: 1 for sid in per}
        extra = total - len(counts)
        if extra > 0 and self.n:
            shares = {sid: extra * per[sid] / self.n for sid in per}
            for sid in per:
                counts[sid] += int(shares[sid])
            rest = sorted(per, key=lambda sid: -(shares[sid] - int(shares[sid])))
            for sid in rest[: total - sum(counts.values())]:
                counts[sid] += 1
        return counts

    def staff(self, students):
        out, sid_next, number = [], 301, 9001
        for school_id, count in sorted(self.staff_counts(students).items()):
            for _ in range(count):
                gender, first, middle, last = self.person()
                user = self.usernames.take(slug(first)[:1] + slug(last)[:10])
                out.append({
                    "id": sid_next, "local_id": number, "admin_username": user,
                    "teacher_username": user, "users_dcid": sid_next + 1000,
                    "teacher_global_id": 800000 + sid_next, "staff_global_id": 810000 + sid_next,
                    "name": self.name(first, middle, last),
                    "addresses": {"home": self.address()},
                    "emails": {"work_email": self.emails.take("%s.%s" % (slug(first), slug(last)))
                               + "@" + DISTRICT_DOMAIN},
                    "phones": {"home_phone": self.phone()},
                    # type 1 = teacher, status 1 = current: PowerSchool's
                    # SchoolStaff codes as best known [I]
                    "school_affiliations": {"school_affiliation": [
                        {"school_id": school_id, "type": 1, "status": 1}]},
                })
                sid_next += 1
                number += 1
        shared = next(s for s in out if s["school_affiliations"]["school_affiliation"][0]["school_id"] == 2)
        shared["school_affiliations"]["school_affiliation"].append({"school_id": 3, "type": 1, "status": 1})
        return out

    # -- terms, courses, sections, enrollments -------------------------------
    @staticmethod
    def terms():
        out = []
        for school_id, *_ in SCHOOLS:
            for tid, (portion, name, abbr, start, end) in sorted(term_dates().items()):
                out.append({"id": tid, "school_id": school_id, "start_year": SCHOOL_YEAR,
                            "portion": portion, "start_date": iso(start), "end_date": iso(end),
                            "abbreviation": abbr, "name": name})
        return out

    @staticmethod
    def period_term(level, period):
        if level == "elementary" or period <= 5:
            return 3500
        return 3501 if period == 6 else 3502

    def schedule(self, students, staff):
        """(courses, sections, enrollments); self.course_school maps each
        course id to its school id."""
        courses, sections, enrollments = [], [], []
        cid, secid, eid = 401, 601, 10001
        dates = term_dates()
        for school_id, number, _, _, _, level in SCHOOLS:
            kids = [s for s in students if s["school_enrollment"]["school_id"] == school_id]
            teachers = [t for t in staff if any(a["school_id"] == school_id for a in
                                                t["school_affiliations"]["school_affiliation"])]
            k = max(1, round(len(kids) / 25))
            dealt = 0
            for period, (cname, stem) in enumerate(SUBJECTS[level], start=1):
                courses.append({"id": cid, "course_number": "%s%d" % (stem, number), "course_name": cname})
                self.course_school[cid] = school_id
                if not kids:
                    cid += 1
                    continue
                order = kids[:]
                self.rng.shuffle(order)
                term = self.period_term(level, period)
                for j in range(k):
                    teacher = teachers[dealt % len(teachers)]
                    dealt += 1
                    sections.append({"id": secid, "school_id": school_id, "course_id": cid,
                                     "staff_id": teacher["id"], "term_id": term,
                                     "section_number": str(j + 1),
                                     "expression": "%d(%s)" % (period, "A-E" if level == "elementary" else "A")})
                    for kid in sorted(order[j::k], key=lambda s: s["id"]):
                        enrollments.append(self.enrollment(eid, secid, kid, dates[term]))
                        eid += 1
                    secid += 1
                cid += 1
        return courses, sections, enrollments

    @staticmethod
    def enrollment(eid, section_id, kid, term):
        start, end = term[3], term[4]
        rec = {"id": eid, "section_id": section_id, "student_id": kid["id"],
               "entry_date": iso(start), "exit_date": iso(end), "dropped": False}
        se = kid["school_enrollment"]
        if se["status_code"] != 0:  # transferred out: dropped on the day they left
            left = max(start, datetime.date.fromisoformat(se["exit_date"]))
            rec.update({"exit_date": iso(min(left, end)), "dropped": True})
        return rec

    def build(self):
        schools = self.schools()
        students, guardian_rows = self.students_and_guardians()
        staff = self.staff(students)
        courses, sections, enrollments = self.schedule(students, staff)
        return {"schools": schools, "students": students, "staff": staff, "courses": courses,
                "terms": self.terms(), "sections": sections, "section_enrollments": enrollments,
                "guardian_rows": guardian_rows}


def order_student(rec):
    """Key order as PowerSchool sends it: ids first, then the sub-objects."""
    keys = ("id", "local_id", "student_username", "state_province_id", "global_id", "name",
            "demographics", "addresses", "phones", "school_enrollment", "contact",
            "contact_info", "ethnicity_race")
    return {k: rec[k] for k in keys if k in rec}


# ---------------------------------------------------------------------------
# q filters

def q_values(rec, path):
    """Every value at a dotted path (lists are walked element by element)."""
    vals = [rec]
    for part in path.split("."):
        nxt = []
        for v in vals:
            for item in (v if isinstance(v, list) else [v]):
                if isinstance(item, dict) and part in item:
                    nxt.append(item[part])
        vals = nxt
    out = []
    for v in vals:
        out.extend(v if isinstance(v, list) else [v])
    return [v for v in out if not isinstance(v, (dict, list))]


def text_of(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def parse_q(q):
    """[(path, compiled pattern)], or raise ValueError."""
    terms = []
    for term in q.split(";"):
        path, sep, value = term.partition("==")
        if not sep or not path.strip() or "=" in path or value.startswith("="):
            raise ValueError("unsupported q term %r (the mock knows path==value, * and ;)" % term)
        pattern = ".*".join(re.escape(p) for p in value.split("*"))
        terms.append((path.strip(), re.compile(pattern, re.IGNORECASE | re.DOTALL)))
    return terms


def q_match(rec, terms):
    return all(any(pat.fullmatch(text_of(v)) for v in q_values(rec, path)) for path, pat in terms)


# ---------------------------------------------------------------------------
# XML for a request without Accept: application/json

def to_xml(tag, value):
    if isinstance(value, list):
        return "".join(to_xml(tag, v) for v in value)
    if isinstance(value, dict):
        attrs = "".join(" %s=%s" % (k[1:], quoteattr(text_of(v))) for k, v in value.items() if k.startswith("@"))
        inner = "".join(to_xml(k, v) for k, v in value.items() if not k.startswith("@"))
        return "<%s%s>%s</%s>" % (tag, attrs, inner, tag)
    return "<%s>%s</%s>" % (tag, escape(text_of(value)), tag)


def as_xml(body):
    doc = json.loads(body)
    if isinstance(doc, dict) and len(doc) == 1:
        (tag, value), = doc.items()
        xml = to_xml(tag, value)
    else:
        xml = to_xml("response", doc)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()


def wants_json(req):
    return "application/json" in (req.header("Accept") or "").lower()


# ---------------------------------------------------------------------------
# The mock

def message(status, text, headers=None):
    return Response(status, {"message": text}, headers=headers)


ROUTES = (
    (re.compile(r"/ws/v1/metadata"), "metadata"),
    (re.compile(r"/ws/v1/district/(school|student)(/count)?"), "district"),
    (re.compile(r"/ws/v1/school/([^/]+)/(student|staff|section|course|term)(/count)?"), "per_school"),
    (re.compile(r"/ws/v1/section/([^/]+)/section_enrollment(/count)?"), "per_section"),
    (re.compile(r"/ws/v1/(student|school|staff|section|course|term|section_enrollment)/([^/]+)"), "single"),
    (re.compile(r"/ws/schema/query/([^/]+?)(/count)?"), "powerquery"),
)


class PowerSchoolMock(mockbase.Mock):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.rate, self.rate_key = None, None
        self.data_key, self.d = None, None
        self.token_lock = threading.Lock()
        self.refresh()

    # -- config -----------------------------------------------------------
    def cfg(self, key, default):
        v = self.config.get(key)
        return default if v is None else v

    def refresh(self):
        """(Re)generate the data set when seed or students changed."""
        key = (self.cfg("seed", 1), int(self.cfg("students", 120)))
        if key == self.data_key:
            return
        gen = Generator(*key)
        self.data_key, self.d, self.course_school = key, gen.build(), gen.course_school
        d = self.d
        self.by_id = {
            "student": {r["id"]: r for r in d["students"]},
            "school": {r["id"]: r for r in d["schools"]},
            "staff": {r["id"]: r for r in d["staff"]},
            "section": {r["id"]: r for r in d["sections"]},
            "course": {r["id"]: r for r in d["courses"]},
            "section_enrollment": {r["id"]: r for r in d["section_enrollments"]},
            "term": {},
        }
        for t in d["terms"]:
            self.by_id["term"].setdefault(t["id"], t)
        self.lists = {(sid, res): self.school_list(sid, res) for sid in self.by_id["school"]
                      for res in ("student", "staff", "section", "course", "term")}
        self.by_section = {sid: [] for sid in self.by_id["section"]}
        for e in d["section_enrollments"]:
            self.by_section[e["section_id"]].append(e)

    def max_page(self, resource):
        m = self.cfg("max_page_size", 100)
        if isinstance(m, dict):
            m = m.get(resource, m.get("default", 100))
        return max(1, int(m))

    # -- mockbase hooks ---------------------------------------------------
    def data(self):
        self.refresh()
        return self.d

    def is_data_request(self, req):
        return not req.path.startswith("/oauth/")

    def error(self, status, req):
        text = {429: "Too many requests", 500: "Internal server error",
                503: "Service unavailable"}.get(status, "Error")
        return message(status, text)

    def expire_token(self, req):
        tok = self.bearer(req)
        with self.token_lock:
            if tok in self.tokens:
                self.tokens[tok] = time.time() - 1

    def empty_page(self, req):
        return self.respond(req, empty=True)

    def handle(self, req):
        return self.respond(req, empty=False)

    # -- top level --------------------------------------------------------
    def respond(self, req, empty):
        try:
            self.refresh()
            if req.path.rstrip("/") == "/oauth/access_token":
                return self.token(req)
            if not req.path.startswith("/ws/"):
                return message(404, "Not Found")
            resp = self.precheck(req) or self.route(req, empty)
            if resp.status == 200 and not wants_json(req):
                resp = Response(200, as_xml(resp.body), content_type="application/xml;charset=UTF-8")
            return resp
        except Exception as exc:  # a mock bug: say so rather than drop the connection
            traceback.print_exc(file=sys.stderr)
            return message(500, "mock error: %s" % exc)

    def precheck(self, req):
        return self.rate_check() or self.auth_check(req) or self.forbidden_check(req)

    def route(self, req, empty):
        path = req.path.rstrip("/") or "/"
        for pattern, name in ROUTES:
            m = pattern.fullmatch(path)
            if m:
                if (name == "powerquery") != (req.method == "POST"):
                    return message(405, "Method Not Allowed")
                return getattr(self, "r_" + name)(req, empty, *m.groups())
        return message(404, "Not Found: %s" % req.path)

    # -- token endpoint ---------------------------------------------------
    def token(self, req):
        if req.method != "POST":
            return Response(405, {"error": "invalid_request"})
        if self.basic_credentials(req) != (self.cfg("client_id", "test-client"),
                                           self.cfg("client_secret", "test-secret")):
            return Response(401, {"error": "invalid_client"},
                            headers={"WWW-Authenticate": 'Basic realm="PowerSchool"'})
        ctype = (req.header("Content-Type") or "").lower()
        if "application/x-www-form-urlencoded" not in ctype:
            return Response(400, {"error": "invalid_request"})
        try:
            form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return Response(400, {"error": "invalid_request"})
        if "grant_type" not in form:
            return Response(400, {"error": "invalid_request"})
        if form["grant_type"] != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        lifetime = int(self.cfg("token_lifetime", 3600))
        tok = str(uuid.uuid4())
        with self.token_lock:
            self.tokens[tok] = time.time() + lifetime
        return Response(200, {"access_token": tok, "token_type": "Bearer", "expires_in": str(lifetime)},
                        headers={"Cache-Control": "no-store"})

    @staticmethod
    def basic_credentials(req):
        scheme, _, value = (req.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            cid, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return (cid, secret) if sep else None

    # -- checks before routing ---------------------------------------------
    def rate_check(self):
        rl = self.config.get("rate_limit")
        if not rl:
            return None
        key = (int(rl.get("limit", 10)), float(rl.get("window", 60)))
        if key != self.rate_key:
            self.rate, self.rate_key = mockbase.RateWindow(*key), key
        now = time.time()
        ok, _, reset = self.rate.take(now)
        if ok:
            return None
        retry = max(1, math.ceil(reset - now))
        return message(429, "Too many requests (mock-only rate limit: PowerSchool documents none)",
                       headers={"Retry-After": str(retry)})

    @staticmethod
    def bearer(req):
        scheme, _, tok = (req.header("Authorization") or "").strip().partition(" ")
        return tok.strip() if scheme.lower() == "bearer" else None

    def auth_check(self, req):
        tok = self.bearer(req)
        with self.token_lock:
            expiry = self.tokens.get(tok) if tok else None
        if not tok:
            why, code = "an Authorization: Bearer header is required", "invalid_request"
        elif expiry is None:
            why, code = "the access token is invalid", "invalid_token"
        elif time.time() >= expiry:
            why, code = "the access token has expired", "invalid_token"
        else:
            return None
        return message(401, "Authorization failed: " + why,
                       headers={"WWW-Authenticate": 'Bearer realm="PowerSchool", error="%s"' % code})

    def forbidden_check(self, req):
        for prefix in self.cfg("forbidden_paths", []):
            if req.path.startswith(prefix):
                return message(403, "Forbidden: the plugin has no access to %s" % req.path)
        return None

    # -- paging -------------------------------------------------------------
    def paging(self, req, resource):
        """(page, pagesize) or a 400 Response."""
        mx = self.max_page(resource)
        try:
            page = int(req.args.get("page") or 1)
            size = int(req.args.get("pagesize") or mx)
        except ValueError:
            return message(400, "page and pagesize must be integers")
        if page < 1 or size < 1:
            return message(400, "page and pagesize must be 1 or more")
        # Larger than the plugin's maximum: clamped (unconfirmed: the real
        # server might answer 400 instead).
        return page, min(size, mx)

    @staticmethod
    def names(req, key):
        return {n.strip().lower() for n in (req.args.get(key) or "").split(",") if n.strip()}

    # -- /ws/v1 handlers ---------------------------------------------------
    def r_metadata(self, req, empty):
        meta = {"powerschool_version": POWERSCHOOL_VERSION, "plugin_id": PLUGIN_ID,
                "district_timezone": "America/Chicago",
                "district_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "powerschool-mock/%s" % (self.data_key[0],)))}
        for res in PAGED_RESOURCES:
            meta["%s_max_page_size" % res] = self.max_page(res)
        return Response(200, {"metadata": meta})

    def r_district(self, req, empty, resource, count):
        recs = self.d["schools"] if resource == "school" else self.d["students"]
        return self.collection(req, resource, recs, count, empty)

    def r_per_school(self, req, empty, school_id, resource, count):
        sid = self.int_id(school_id)
        if sid not in self.by_id["school"]:
            return message(404, "Not Found: no school with id %s" % school_id)
        return self.collection(req, resource, self.lists[(sid, resource)], count, empty)

    def r_per_section(self, req, empty, section_id, count):
        sid = self.int_id(section_id)
        if sid not in self.by_id["section"]:
            return message(404, "Not Found: no section with id %s" % section_id)
        return self.collection(req, "section_enrollment", self.by_section[sid], count, empty)

    def r_single(self, req, empty, resource, rid):
        rec = self.by_id[resource].get(self.int_id(rid))
        if rec is None:
            return message(404, "Not Found: no %s with id %s" % (resource, rid))
        return Response(200, {resource: self.render(req, resource, rec)})

    @staticmethod
    def int_id(text):
        return int(text) if text.isdigit() else None

    def school_list(self, sid, resource):
        d = self.d
        if resource == "student":
            return [s for s in d["students"] if s["school_enrollment"]["school_id"] == sid]
        if resource == "staff":  # active affiliations only
            return [s for s in d["staff"] if any(a["school_id"] == sid and a["status"] == 1
                                                 for a in s["school_affiliations"]["school_affiliation"])]
        if resource == "section":
            return [s for s in d["sections"] if s["school_id"] == sid]
        if resource == "course":
            return [c for c in d["courses"] if self.course_school[c["id"]] == sid]
        terms = [t for t in d["terms"] if t["school_id"] == sid]
        return sorted(terms, key=lambda t: (t["portion"], t["start_date"]))

    def collection(self, req, resource, recs, count, empty):
        try:
            terms = parse_q(req.args["q"]) if req.args.get("q") else []
        except ValueError as exc:
            return message(400, str(exc))
        recs = [r for r in recs if q_match(r, terms)]
        if count:
            return Response(200, {"resource": {"count": len(recs)}})
        paged = self.paging(req, resource)
        if isinstance(paged, Response):
            return paged
        page, size = paged
        chunk = [] if empty else recs[(page - 1) * size: page * size]
        return Response(200, self.envelope(resource, [self.render(req, resource, r) for r in chunk]))

    def envelope(self, resource, recs):
        plural, singular, exps, exts = COLLECTIONS[resource]
        inner = {"@expansions": ", ".join(exps), "@extensions": ",".join(exts)}
        if len(recs) == 1 and self.cfg("single_object_quirk", True):
            inner[singular] = recs[0]
        elif recs:
            inner[singular] = recs
        return {plural: inner}

    def render(self, req, resource, rec):
        """The record with only the expansions (and extensions) asked for."""
        exps = COLLECTIONS[resource][2]
        if not exps:
            return rec
        asked = self.names(req, "expansions")
        out = {k: v for k, v in rec.items() if k not in exps or k in asked}
        if resource == "student" and "studentcorefields" in self.names(req, "extensions"):
            out["_extension_data"] = core_fields(rec)
        return out

    # -- PowerQuery ----------------------------------------------------------
    def r_powerquery(self, req, empty, name, count):
        if name != QUERY_NAME:
            return message(404, "Not Found: no PowerQuery named %s" % name)
        args = query_args(req.body)
        if isinstance(args, str):
            return message(400, args)
        rows = self.d["guardian_rows"]
        if args is not None:
            rows = [r for r in rows if r["studentsdcid"] in args]
        if count:
            return Response(200, {"count": len(rows)})
        paged = self.paging(req, "schema_table_query")
        if isinstance(paged, Response):
            return paged
        page, size = paged
        out = {"name": name, "record": [] if empty else rows[(page - 1) * size: page * size],
               "@extensions": ""}
        if (req.args.get("count") or "").lower() == "true":
            out["count"] = len(rows)
        return Response(200, out)


def query_args(body):
    """The set of student DCIDs asked for, None for all, or an error text."""
    try:
        args = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return "the request body is not JSON"
    if not isinstance(args, dict):
        return "the request body must be a JSON object of arguments"
    unknown = sorted(set(args) - {"students_dcid"})
    if unknown:
        return "unknown argument(s): %s" % ", ".join(unknown)
    if "students_dcid" not in args:
        return None
    ids = args["students_dcid"]
    ids = ids if isinstance(ids, list) else [ids]
    out = set()
    for v in ids:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            return "students_dcid must hold student DCIDs (numbers), not %s" % json.dumps(v)
        out.add(int(v))
    return out


def core_fields(rec):
    name = rec["name"]
    fields = [{"name": "pscore_legal_first_name", "value": name["first_name"]},
              {"name": "pscore_legal_last_name", "value": name["last_name"]},
              {"name": "pscore_legal_gender", "value": rec["demographics"]["gender"]}]
    return {"_table_extension": [{"recordFound": True, "name": "studentcorefields", "_field": fields}]}


if __name__ == "__main__":
    mockbase.serve(PowerSchoolMock)
