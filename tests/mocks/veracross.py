"""veracross.py: a mock of the Veracross Data API v3 and its token endpoint.

The connector tests (tests/connectors.py) start it and point a veracross
source at it, to check the C connector against the wire facts of
../shared/research/connectors.md section 1.1, as section 8.1 specifies the
mock.  It serves a generated school district (3 campuses, students,
parents, households, relationships, staff, courses, classes, grading
periods, enrollments), deterministic from `seed`, in the shapes that
stdlib/veracross.sync documents as the connector contract.

    python3 tests/mocks/veracross.py [--config FILE.json]   -> "PORT <n>"

URL layout (ROUTE is the `route` key, or one of `other_routes`):
    token URL   POST http://127.0.0.1:PORT/ROUTE/oauth/token
    base URL    http://127.0.0.1:PORT/ROUTE/v3        (GET BASE/students, ...)

Endpoints (list, and /{id} read): students, staff_faculty, parents,
relationships, households, academics/classes, academics/courses,
academics/enrollments, academics/config/grading_periods.  The scope of a
list is the path with "/" replaced by "." and ":list" (":read" for /{id}).

Config keys (a JSON object: --config FILE, or POST /_mock/config):
  common (tests/mocks/README.md)
    seed            1             the data set is generated from it
    students        120           students in the district
    client_id       "test-client" the one known OAuth client
    client_secret   "test-secret"
    token_lifetime  3600          seconds a token lives (expires_in)
    faults          []            see mockbase.FAULT_KINDS
  Veracross
    route           "springfield" the school route
    other_routes    ["shelbyville"]  more routes the mock answers with the
                                  same data, so a test can present a token
                                  minted for one route at another (401
                                  "...is unknown")
    allowed_scopes  every list and read scope of the endpoints above: what
                                  the OAuth application may request (a list,
                                  or one space-separated string)
    max_page_size   1000          TEST KNOB: an X-Page-Size above it (but
                                  within 1..1000) is silently clamped to it,
                                  so a small data set still spans many
                                  pages.  Real Veracross is not known to
                                  clamp: it serves up to 1000 per page.
    rate_limit      {"limit": 300, "window": 180}  requests per token per
                                  window (seconds), the window opening at
                                  the token's first data request
    retry_after_on_429  false     send Retry-After on a real (not injected)
                                  429; Veracross documents none
    reset_decimals  0             decimals of X-Rate-Limit-Reset (a test
                                  knob; Veracross sends whole seconds)
    max_tokens      10            live tokens per client and route; minting
                                  one more revokes the oldest
    revision        "3.0.0"       the X-API-Revision response header (the
                                  request's own X-API-Revision is echoed)
    school_year     the school year that holds today (Aug 1 starts one):
                                  its starting calendar year, e.g. 2026 for
                                  2026-27.  Data dates are built around it
    token_clock_offset  0         seconds added to the mock's clock for
                                  tokens only (created_at, expiry): raise it
                                  to expire tokens without waiting
    extra_value_lists   false     value lists are sent for the fields the
                                  stdlib/veracross.sync contract decodes;
                                  true adds those of the other coded fields
                                  (classes: status, school_year, campus_id,
                                  school_level, course_type; enrollments:
                                  grade_level_id, class_status; grading
                                  periods: school_year), which a connector
                                  must leave undecoded
  Changing seed, students, school_year or route through /_mock/config
  regenerates the data set; tokens survive.

Behaviour of a data request, checked in this order: the route (404 "The
requested client is unknown"), the path (404 "The requested endpoint wasn't
found"; a literal {id} gives 400 "The URL path is missing required
parameters: id"), the method (405), Accept and Accept-Encoding (406; a
".json" suffix on the path overrides Accept), the bearer token (401: missing
or malformed, unknown or minted for another route, revoked, expired), the
rate budget (429; it counts every request that got past the token check),
the scope (401), then query parameters (400; each endpoint takes only the
filters listed in ENDPOINTS below, a /{id} read none) and the paging headers
(400).  Every response under /v3 carries X-API-Revision and the three
X-Rate-Limit-* headers (for a request without a valid token they describe a
fresh window).  The data set: person ids are shared by staff, students and
parents; /relationships rows read "related_person_id is person_id's
RELATIONSHIP": student -> parent rows (Mother, Father, Stepmother,
Stepfather, Guardian; a student's own household first, then a parent
living in another household), sibling rows and spouse rows (parent ->
parent), in that order per family; there are no parent -> child rows.

Faults (mockbase): an injected 429 carries X-Rate-Limit-Remaining 0 and an
X-Rate-Limit-Reset about one second ahead (so a client that sleeps until
Reset waits ~1 s), and no Retry-After (429_retry_after adds "1").  Injected
faults do not use up the rate budget.  `expire_token` expires the caller's
token, so that same request answers 401 "The provided access token has
expired".

Marked inferences ([I], not confirmed by the research): the token endpoint's
error codes and texts (Doorkeeper's, with Veracross's error_id), an empty
`scope` granting a token with no scopes, the 400 texts for bad paging
headers and filter values, the 404 text for an unknown record id, and the
503 body.
"""
import datetime as dt
import math
import os
import random
import re
import secrets
import sys
import time
import uuid
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockbase  # noqa: E402

# ---------------------------------------------------------------------------
# Configuration and the endpoints served

ENDPOINTS = {
    # path: the query filters it accepts (connectors.md 1.1: /staff_faculty
    # and /parents have no last-modified filter on the list)
    "students": ("household_id", "on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "staff_faculty": ("household_id",),
    "parents": ("household_id",),
    "relationships": ("person_id", "related_person_id",
                      "on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "households": ("on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "academics/classes": ("school_year", "on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "academics/courses": ("on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "academics/enrollments": ("internal_class_id", "person_id", "school_year",
                              "on_or_after_last_modified_date", "on_or_before_last_modified_date"),
    "academics/config/grading_periods": ("school_year",),
}

# The value lists each endpoint sends with X-API-Value-Lists: include: those
# of the fields stdlib/veracross.sync's contract decodes.
ENDPOINT_LISTS = {
    "students": ("gender", "grade_level", "school_level", "homeroom", "campus.id",
                 "enrollment_status", "student_group"),
    "staff_faculty": ("gender", "faculty_type", "department", "campus.id"),
    "parents": ("gender",),
    "relationships": ("relationship",),
    "households": (),
    "academics/classes": (),
    "academics/courses": ("course_type",),
    "academics/enrollments": (),
    "academics/config/grading_periods": (),
}
# The lists of the other coded fields, sent too when `extra_value_lists` is
# set (a connector must decode only the contract's fields: decoding campus_id
# into an object would break the class map's `school = string(campus_id)`).
EXTRA_LISTS = {
    "academics/classes": ("status", "school_year", "campus_id", "school_level", "course_type"),
    "academics/enrollments": ("grade_level_id", "class_status"),
    "academics/config/grading_periods": ("school_year",),
}

EQUALITY_FILTERS = ("household_id", "person_id", "related_person_id", "internal_class_id", "school_year")


def scope_of(path, read=False):
    return path.replace("/", ".") + (":read" if read else ":list")


ALL_SCOPES = [scope_of(p, r) for p in ENDPOINTS for r in (False, True)]


def default_school_year(today=None):
    today = today or dt.date.today()
    return today.year if today.month >= 8 else today.year - 1


DEFAULTS = {
    "seed": 1, "students": 120, "client_id": "test-client", "client_secret": "test-secret",
    "token_lifetime": 3600, "route": "springfield", "other_routes": ["shelbyville"],
    "allowed_scopes": ALL_SCOPES, "max_page_size": 1000,
    "rate_limit": {"limit": 300, "window": 180}, "retry_after_on_429": False,
    "max_tokens": 10, "revision": "3.0.0", "token_clock_offset": 0, "extra_value_lists": False,
}

# ---------------------------------------------------------------------------
# Value lists

CAMPUSES = [(1, "Lincoln Elementary"), (2, "Washington High"), (3, "Jefferson Middle")]
SCHOOL_LEVELS = [(1, "Lower School"), (2, "Middle School"), (3, "Upper School")]
GENDERS = [(1, "Male"), (2, "Female"), (3, "Non-binary")]
ENROLLMENT_STATUSES = [(1, "Enrolled"), (2, "Withdrawn"), (3, "Graduated")]
STUDENT_GROUPS = [(1, "Day Student"), (2, "Boarding Student")]
FACULTY_TYPES = [(1, "Faculty"), (2, "Staff"), (3, "Administrator")]
RELATIONSHIPS = [(4, "Father"), (5, "Mother"), (6, "Stepfather"), (7, "Stepmother"), (8, "Guardian"),
                 (11, "Husband"), (12, "Wife"), (13, "Brother"), (14, "Sister"), (15, "Sibling")]
COURSE_TYPES = [(1, "Academic"), (2, "Elective")]
CLASS_STATUSES = [(1, "Active"), (2, "Inactive")]
SUBJECTS = [  # id, name, department id (department ids are the staff `department` codes)
    (1, "Mathematics", 1), (2, "English", 2), (3, "Science", 3), (4, "History", 4),
    (5, "World Languages", 5), (6, "Arts", 6), (7, "Physical Education", 7)]
DEPARTMENTS = [(1, "Mathematics"), (2, "English"), (3, "Science"), (4, "History"),
               (5, "World Languages"), (6, "Arts"), (7, "Physical Education"), (8, "Administration")]


def grade_items():
    """grade_level: 20 is Kindergarten and 20+N is Grade N (as in the replay scenario)."""
    return [(20, "Kindergarten")] + [(20 + g, "Grade %d" % g) for g in range(1, 13)]


CAMPUS_LEVEL = {1: 1, 3: 2, 2: 3}  # campus id -> school level id


def campus_of_grade(g):
    """(campus id, school level id) for grade g (0 = kindergarten): K-5 at
    Lincoln Elementary, 6-8 at Jefferson Middle, 9-12 at Washington High."""
    campus = 1 if g <= 5 else 3 if g <= 8 else 2
    return campus, CAMPUS_LEVEL[campus]


def items(pairs):
    return [{"id": i, "description": d, "category": None, "sort_key": n + 1}
            for n, (i, d) in enumerate(pairs)]


def value_list(fields, pairs):
    return {"fields": list(fields), "items": items(pairs), "categories": []}


# ---------------------------------------------------------------------------
# Names

FEMALE = ("Olivia Emma Ava Sophia Isabella Mia Amelia Harper Evelyn Abigail Emily Ella Elizabeth "
          "Camila Luna Sofia Avery Mila Aria Scarlett Penelope Layla Chloe Victoria Madison Eleanor "
          "Grace Nora Riley Zoey Hannah Hazel Lily Ellie Violet Lillian Zoe Stella Aurora Natalie "
          "Emilia Everly Leah Aubrey Willow Addison Lucy Audrey Bella Nova Brooklyn Paisley Savannah "
          "Claire Skylar Isla Genesis Naomi Elena Caroline Maria Priya Mei Aisha Fatima Ingrid").split()
MALE = ("Liam Noah Oliver Elijah James William Benjamin Lucas Henry Theodore Jack Levi Alexander "
        "Jackson Mateo Daniel Michael Mason Sebastian Ethan Logan Owen Samuel Jacob Asher Aiden John "
        "Joseph Wyatt David Leo Luke Julian Hudson Grayson Matthew Ezra Gabriel Carter Isaac Jayden "
        "Luca Anthony Dylan Lincoln Thomas Maverick Elias Josiah Charles Caleb Christopher Ezekiel "
        "Miles Jaxon Isaiah Andrew Joshua Nathan Nolan Adrian Ravi Kenji Omar Tomas Andre").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
        "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
        "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
        "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
        "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
        "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson "
        "Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
        "Sanders Patel Myers Long Ross Foster Jimenez O'Brien Okafor Chen Novak Lindqvist").split()
STREETS = ("Maple Oak Elm Cedar Pine Walnut Chestnut Birch Willow Spruce Hickory Lake Hill Park "
           "Washington Lincoln Jefferson Madison Adams Monroe Jackson Evergreen Sycamore").split()
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way", "Blvd")
HOUSES = [(1, "Oak"), (2, "Maple"), (3, "Cedar"), (4, "Birch")]


def slug(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


class Unique:
    """Hands out unique strings: base, base2, base3, ..."""

    def __init__(self):
        self.seen = set()

    def take(self, base, fmt="%s%d"):
        name, n = base, 1
        while name in self.seen:
            n += 1
            name = fmt % (base, n)
        self.seen.add(name)
        return name


# ---------------------------------------------------------------------------
# The district generator

class District:
    """A generated school district: every record list of the data set."""

    def __init__(self, seed, n_students, route, school_year):
        self.rng = random.Random(seed)
        self.year = school_year
        self.domain = "%s.example" % slug(route)
        self.emails = Unique()
        self.usernames = Unique()
        self.person_ids = iter(range(1001, 10 ** 9))
        self.household_ids = iter(range(501, 10 ** 9))
        self.households, self.students, self.parents, self.staff = [], [], [], []
        self.relationships, self.courses, self.classes, self.enrollments = [], [], [], []
        self.grading_periods = []
        self.make_staff(n_students)
        self.homerooms = self.make_homerooms()
        self.make_families(n_students)
        self.make_courses_and_classes()
        self.make_grading_periods()

    # -- helpers -------------------------------------------------------------
    def next_person_id(self):
        """Person ids are shared by students, parents and staff (one people table)."""
        return next(self.person_ids)

    def date(self, y, m, d):
        return dt.date(y, m, d).isoformat()

    def random_date(self, lo, hi):
        return lo + dt.timedelta(days=self.rng.randrange((hi - lo).days + 1))

    def modified(self):
        """A last_modified_date in the year before school starts (always in the past)."""
        lo = dt.datetime(self.year - 1, 6, 1, tzinfo=dt.timezone.utc)
        hi = dt.datetime(self.year, 7, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
        t = lo + dt.timedelta(seconds=self.rng.randrange(int((hi - lo).total_seconds())))
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def person_name(self, gender, last=None):
        first = self.rng.choice(FEMALE if gender == 2 else MALE if gender == 1 else FEMALE + MALE)
        middle = self.rng.choice(FEMALE if gender == 2 else MALE) if self.rng.random() < 0.7 else None
        return first, middle, last or self.rng.choice(LAST)

    def gender(self, p_nonbinary=0.02):
        if self.rng.random() < p_nonbinary:
            return 3
        return self.rng.choice((1, 2))

    def household(self, name_last):
        hid = next(self.household_ids)
        street = "%d %s %s" % (self.rng.randrange(10, 9900), self.rng.choice(STREETS),
                               self.rng.choice(STREET_KINDS))
        rec = {"id": hid, "name": "The %s Family" % name_last, "address_line_1": street,
               "address_line_2": None, "address_line_3": None, "city": "Springfield",
               "state_or_province": "IL", "zip": "627%02d" % self.rng.randrange(1, 99),
               "country": "United States",
               "phone": "(217) 555-%04d" % self.rng.randrange(100, 200),
               "last_modified_date": self.modified()}
        self.households.append(rec)
        return rec

    # -- staff ---------------------------------------------------------------
    def make_staff(self, n_students):
        n = max(3, round(n_students / 15))
        # Campus shares follow the grades each campus holds (6, 4 and 3 of 13).
        campus_cycle = [1, 2, 3, 1, 2, 1, 3, 1, 2, 1, 3, 2, 1]
        for i in range(n):
            campus = campus_cycle[i % len(campus_cycle)]
            registrar = n >= 8 and i == n - 1
            head = n >= 6 and i < 3  # with 6 or more, the first of each campus heads it
            self.staff.append(self.staff_member(campus, registrar, head))

    def staff_member(self, campus, registrar, head):
        gender = self.gender(0.0)
        first, middle, last = self.person_name(gender)
        sid = self.next_person_id()
        local = self.emails.take(slug(first[0] + last), "%s%d")
        self.usernames.seen.add(local)
        hh = self.household(last)
        level = CAMPUS_LEVEL[campus]
        subject = self.rng.choice(SUBJECTS)
        if registrar:
            ftype, dept, title, roles = 2, 8, "Registrar", "Staff"
        elif head:
            ftype, dept, title, roles = 3, 8, "Head of %s" % SCHOOL_LEVELS[level - 1][1], "Faculty, Administrator"
        else:
            ftype, dept, title, roles = 1, subject[2], "%s Teacher" % subject[1], "Faculty"
        prefix = {1: "Mr.", 2: "Ms."}.get(gender, "Mx.")
        if self.rng.random() < 0.15:
            prefix = "Dr."
        hired = self.random_date(dt.date(self.year - 25, 7, 1), dt.date(self.year - 1, 7, 31))
        return {"id": sid, "name_prefix": prefix, "name_suffix": None, "first_name": first,
                "middle_name": middle, "last_name": last, "preferred_name": first,
                "household_id": hh["id"], "gender": gender, "faculty_type": ftype, "department": dept,
                "job_title": title, "employee_code": "E%05d" % sid, "date_hired": hired.isoformat(),
                "date_terminated": None, "campus": {"id": campus, "description": dict(CAMPUSES)[campus]},
                "roles": roles, "email_1": "%s@%s" % (local, self.domain), "username": local,
                "last_modified_date": self.modified()}

    def faculty_at(self, campus):
        """Teachers (and heads) of a campus; any faculty when the campus has none."""
        own = [s for s in self.staff if s["campus"]["id"] == campus and s["faculty_type"] != 2]
        return own or [s for s in self.staff if s["faculty_type"] != 2] or self.staff

    # -- students, parents, households, relationships -------------------------
    def make_families(self, n_students):
        grades = [i % 13 for i in range(n_students)]
        self.rng.shuffle(grades)
        i = 0
        while i < n_students:
            size = self.rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
            self.family(grades[i:i + size])
            i += size

    def make_homerooms(self):
        """grade -> (homeroom id, description, teacher): one homeroom per grade."""
        rooms = {}
        for gid, desc in grade_items():
            g = gid - 20
            teachers = self.faculty_at(campus_of_grade(g)[0])
            t = teachers[g % len(teachers)]
            rooms[g] = (300 + g, "%s Homeroom (%s)" % (desc, t["last_name"]), t)
        return rooms

    def homeroom_teacher(self, g):
        t = self.homerooms[g][2]
        return {"id": t["id"], "name": "%s %s" % (t["first_name"], t["last_name"])}

    def family(self, kid_grades):
        last = self.rng.choice(LAST)
        hh = self.household(last)
        kids = [self.student(g, last, hh["id"]) for g in kid_grades]
        adults = self.resident_parents(last, hh["id"])
        nonresident = None
        if self.rng.random() < 0.15:
            nonresident = self.nonresident_parent(adults)
        for kid in kids:
            for parent, rel in adults:
                self.relate(kid, parent, rel, resident=True)
            if nonresident:
                self.relate(kid, nonresident[0], nonresident[1], resident=False)
        for a in kids:
            for b in kids:
                if a is not b:
                    self.relate(a, b, {1: 13, 2: 14}.get(b["gender"], 15), resident=True, family=False)
        if len(adults) == 2:
            (p1, _), (p2, _) = adults
            self.relate(p1, p2, 11 if p2["gender"] == 1 else 12, resident=True, family=False)
            self.relate(p2, p1, 11 if p1["gender"] == 1 else 12, resident=True, family=False)

    def student(self, g, last, household_id):
        gender = self.gender()
        first, middle, _ = self.person_name(gender, last)
        campus, level = campus_of_grade(g)
        grad = self.year + 1 + (12 - g)
        born_lo = dt.date(self.year - g - 6, 9, 2)
        birthday = self.random_date(born_lo, dt.date(self.year - g - 5, 9, 1))
        entry = dt.date(self.year - self.rng.randrange(g + 1), 8, self.rng.randrange(15, 28))
        withdrawn = self.rng.random() < 0.025
        local = self.emails.take("%s.%s%02d" % (slug(first), slug(last), grad % 100), "%s.%d")
        username = self.usernames.take("%s%s%02d" % (slug(first[0]), slug(last), grad % 100))
        advisor = house = None
        if g >= 6:  # middle and upper school students have an advisor and a house
            t = self.rng.choice(self.faculty_at(campus))
            advisor = {"id": t["id"], "name": "%s %s" % (t["first_name"], t["last_name"])}
            h = self.rng.choice(HOUSES)
            house = {"id": h[0], "name": h[1]}
        rec = {"id": self.next_person_id(), "first_name": first, "middle_name": middle,
               "last_name": last,
               "preferred_name": first if self.rng.random() < 0.9 else None,
               "household_id": household_id, "gender": gender, "email_1": "%s@%s" % (local, self.domain),
               "grade_level": 20 + g, "school_level": level, "graduation_year": grad,
               "homeroom": self.homerooms[g][0], "homeroom_teacher": self.homeroom_teacher(g),
               "advisor": advisor, "campus": {"description": dict(CAMPUSES)[campus], "id": campus},
               "username": username, "entry_date": entry.isoformat(),
               "exit_date": self.date(self.year, 6, 10) if withdrawn else None,
               "birthday": birthday.isoformat(), "roles": "Student",
               "last_modified_date": self.modified(),
               "enrollment_status": 2 if withdrawn else 1,
               "house": house,
               "student_group": 2 if g >= 9 and self.rng.random() < 0.1 else 1}
        self.students.append(rec)
        return rec

    def parent(self, gender, last, household_id, head):
        first, middle, _ = self.person_name(gender, last)
        pid = self.next_person_id()
        domain = self.rng.choice(("example.com", "example.net", "example.org"))
        local = self.emails.take("%s.%s" % (slug(first), slug(last)), "%s%d")
        rec = {"id": pid, "household_id": household_id, "head_of_household": head,
               "name_prefix": {1: "Mr.", 2: "Ms."}.get(gender), "first_name": first,
               "first_nick_name": None, "preferred_name": first, "middle_name": middle,
               "last_name": last, "name_suffix": None, "spouse": None, "gender": gender,
               "roles": "Parent", "email_1": "%s@%s" % (local, domain),
               "username": self.usernames.take("%s.%s" % (slug(first), slug(last))),
               "last_modified_date": self.modified()}
        self.parents.append(rec)
        return rec

    def resident_parents(self, last, household_id):
        """[(parent, relationship id)]: one or two parents (or a guardian)."""
        if self.rng.random() < 0.04:
            g = self.rng.choice((1, 2))
            return [(self.parent(g, self.rng.choice(LAST), household_id, True), 8)]
        g1 = self.rng.choice((1, 2))
        adults = [(self.parent(g1, last, household_id, True), 4 if g1 == 1 else 5)]
        if self.rng.random() < 0.85:
            g2 = 3 - g1
            last2 = last if self.rng.random() < 0.8 else self.rng.choice(LAST)
            adults.append((self.parent(g2, last2, household_id, False), 4 if g2 == 1 else 5))
            (a, _), (b, _) = adults
            a["spouse"] = {"id": b["id"], "name": "%s %s" % (b["first_name"], b["last_name"])}
            b["spouse"] = {"id": a["id"], "name": "%s %s" % (a["first_name"], a["last_name"])}
        return adults

    def nonresident_parent(self, adults):
        """A parent in a household of their own (no students live there)."""
        genders = {p["gender"] for p, _ in adults}
        g = 1 if 1 not in genders else 2
        last = self.rng.choice(LAST)
        hh = self.household(last)
        rel = 4 if g == 1 else 5
        if len(adults) == 2:
            rel = 6 if g == 1 else 7
        return self.parent(g, last, hh["id"], True), rel

    def relate(self, person, related, rel, resident, family=True):
        """A /relationships row: `related` is the person's `rel` (e.g. Mother)."""
        self.relationships.append({
            "id": len(self.relationships) + 1, "person_id": person["id"], "related_person_id": related["id"],
            "first_name": related["first_name"], "middle_name": related.get("middle_name"),
            "last_name": related["last_name"], "preferred_name": related.get("preferred_name"),
            "relationship": rel, "resident": resident,
            "custody_status": None, "legal_custody": family and (resident or self.rng.random() < 0.5),
            "emergency": family, "pick_up": family and resident, "parent_portal_access": family,
            "profile_update_permission": family and resident, "receive_general_correspondence": family,
            "receive_report_cards": family, "receive_invoices": family and resident,
            "receive_other": family, "medical_notification": family and resident,
            "last_modified_date": self.modified()})

    # -- courses, classes, enrollments ---------------------------------------
    def make_courses_and_classes(self):
        begin, end = self.date(self.year, 8, 20), self.date(self.year + 1, 6, 5)
        level_tag = {1: "LS", 2: "MS", 3: "US"}
        for campus, campus_name in CAMPUSES:
            kids = sorted((s for s in self.students if s["campus"]["id"] == campus and s["enrollment_status"] == 1),
                          key=lambda s: (s["grade_level"], s["id"]))
            if not kids:
                continue
            level = campus_of_grade(kids[0]["grade_level"] - 20)[1]
            n_sections = max(1, round(len(kids) / 25))
            teachers = self.faculty_at(campus)
            for subject_id, subject, dept in SUBJECTS:
                course = self.course(level, level_tag[level], subject_id, subject, dept)
                for k in range(n_sections):
                    members = kids[k * len(kids) // n_sections:(k + 1) * len(kids) // n_sections]
                    teacher = teachers[(len(self.classes)) % len(teachers)]
                    cls = self.klass(course, campus, campus_name, level, k, members, teacher, begin, end)
                    for s in members:
                        self.enroll(cls, s, teacher)

    def course(self, level, tag, subject_id, subject, dept):
        code = "%s-%s" % (slug(subject)[:4].upper(), tag)
        name = "%s %s" % (SCHOOL_LEVELS[level - 1][1], subject)
        rec = {"id": 3001 + len(self.courses), "course_id": code, "name": name, "subject_id": subject_id,
               "subject_description": subject, "department_id": dept,
               "department_description": dict(DEPARTMENTS)[dept], "catalog_title": name,
               "catalog_description": "%s for the %s." % (subject, SCHOOL_LEVELS[level - 1][1]),
               "classification": "Core" if subject_id <= 4 else "Elective",
               "course_type": 1 if subject_id <= 4 else 2, "last_modified_date": self.modified()}
        self.courses.append(rec)
        return rec

    def klass(self, course, campus, campus_name, level, k, members, teacher, begin, end):
        grades = [s["grade_level"] for s in members]
        section = chr(ord("A") + k % 26) + ("" if k < 26 else str(k // 26))
        rec = {"id": 20001 + len(self.classes), "class_id": "%s-%s" % (course["course_id"], section),
               "description": "%s %s" % (course["name"], section), "status": 1, "school_year": self.year,
               "campus_id": campus, "campus_description": campus_name, "begin_date": begin, "end_date": end,
               "primary_grade_level_id": max(set(grades), key=grades.count), "school_level": level,
               "course_type": course["course_type"], "internal_course_id": course["id"],
               "course": {"id": course["id"], "course_id": course["course_id"], "course_name": course["name"]},
               "primary_teacher_id": teacher["id"],
               "primary_teacher_name": "%s %s" % (teacher["first_name"], teacher["last_name"]),
               "room_id": 100 * campus + self.rng.randrange(1, 40), "subject_id": course["subject_id"],
               "department_id": course["department_id"], "term_credit_hours": None,
               "total_credits": 1.0 if level == 3 else None, "last_modified_date": self.modified()}
        self.classes.append(rec)
        return rec

    def enroll(self, cls, student, teacher):
        self.enrollments.append({
            "id": 100001 + len(self.enrollments), "internal_class_id": cls["id"],
            "class_description": cls["description"], "class_status": 1,
            "primary_teacher": {"id": teacher["id"], "first_name": teacher["first_name"],
                                "last_name": teacher["last_name"]},
            "person_id": student["id"],
            "person_name": "%s %s" % (student["first_name"], student["last_name"]),
            "grade_level_id": student["grade_level"], "currently_enrolled": True,
            "late_date_enrolled": None, "date_withdrawn": None, "level": None,
            "exclude_from_transcript": False, "notes": None, "last_modified_date": self.modified()})

    def make_grading_periods(self):
        y = self.year
        terms = [("Semester 1", "S1", self.date(y, 8, 20), self.date(y + 1, 1, 15)),
                 ("Semester 2", "S2", self.date(y + 1, 1, 19), self.date(y + 1, 6, 5))]
        for i, (desc, abbr, start, end) in enumerate(terms):
            self.grading_periods.append({
                "id": 61 + i, "description": desc, "abbreviation": abbr, "start_date": start,
                "end_date": end, "group": {"id": 1, "description": "Semesters", "type": "Semester"},
                "major": True, "minor": False, "period_index": i + 1, "school_year": y})

    # -- value lists ---------------------------------------------------------
    def value_lists(self):
        """field -> [value-list items] (its `fields` are the keys that name it)."""
        years = [(self.year, "%d-%d" % (self.year, self.year + 1))]
        homerooms = [(h[0], h[1]) for _, h in sorted(self.homerooms.items())]
        return {
            "gender": GENDERS, "grade_level": grade_items(), "grade_level_id": grade_items(),
            "school_level": SCHOOL_LEVELS, "homeroom": homerooms, "campus.id": CAMPUSES,
            "campus_id": CAMPUSES, "enrollment_status": ENROLLMENT_STATUSES,
            "student_group": STUDENT_GROUPS, "faculty_type": FACULTY_TYPES,
            "department": DEPARTMENTS, "relationship": RELATIONSHIPS, "status": CLASS_STATUSES,
            "class_status": CLASS_STATUSES,
            "school_year": years, "course_type": COURSE_TYPES}

    def collections(self):
        return {"students": self.students, "staff_faculty": self.staff, "parents": self.parents,
                "relationships": self.relationships, "households": self.households,
                "academics/classes": self.classes, "academics/courses": self.courses,
                "academics/enrollments": self.enrollments,
                "academics/config/grading_periods": self.grading_periods}


def student_read_shape(rec):
    """GET /students/{id}: campus a plain int; name_prefix, name_suffix and
    current_location added; roles, house and student_group absent."""
    out = {}
    for k, v in rec.items():
        if k in ("roles", "house", "student_group"):
            continue
        out[k] = v["id"] if k == "campus" and isinstance(v, dict) else v
        if k == "id":
            out["name_prefix"] = None
            out["name_suffix"] = None
    out["current_location"] = None
    return out


# ---------------------------------------------------------------------------
# Tokens

class Token:
    def __init__(self, value, client, route, scopes, created, lifetime):
        self.value, self.client, self.route = value, client, route
        self.scopes = scopes
        self.created, self.expires = created, created + lifetime
        self.revoked = False
        self.window = mockbase.RateWindow(300, 180)

    def live(self, now):
        return not self.revoked and now < self.expires


class HttpError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status, self.text = status, text


def parse_when(value, end_of_day):
    """A date (YYYY-MM-DD) or an RFC 3339 date-time, as an aware datetime."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        d = dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)
        return d + dt.timedelta(days=1, microseconds=-1) if end_of_day else d
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------
# The mock

class VeracrossMock(mockbase.Mock):
    def __init__(self, config):
        super().__init__(config)
        self.tokens = {}            # value -> Token
        self.district, self.district_key = None, None
        self.ensure_data()

    # -- config and data -----------------------------------------------------
    def cfg(self, key):
        if key == "school_year":
            return int(self.config.get(key) or default_school_year())
        return self.config.get(key, DEFAULTS.get(key))

    def routes(self):
        return [self.cfg("route")] + list(self.cfg("other_routes") or [])

    def ensure_data(self):
        key = (self.cfg("seed"), int(self.cfg("students")), self.cfg("route"), self.cfg("school_year"))
        if key != self.district_key:
            self.district = District(key[0], key[1], key[2], key[3])
            self.district_key = key
        return self.district

    def data(self):
        d = self.ensure_data()
        out = dict(d.collections())
        out["value_lists"] = {f: items(pairs) for f, pairs in d.value_lists().items()}
        return out

    def now(self):
        return time.time()

    def token_now(self):
        return time.time() + float(self.cfg("token_clock_offset") or 0)

    # -- mockbase hooks ------------------------------------------------------
    def is_data_request(self, req):
        return not self.is_token_path(req.path)

    @staticmethod
    def is_token_path(path):
        parts = path.strip("/").split("/")
        return len(parts) == 3 and parts[1:] == ["oauth", "token"]

    def handle(self, req):
        if self.is_token_path(req.path):
            return self.token_endpoint(req)
        return self.data_endpoint(req)

    def error(self, status, req):
        with self.lock:
            text = {429: "Too Many Requests", 500: "An unknown error has occurred",
                    503: "The service is temporarily unavailable"}.get(status, "An unknown error has occurred")
            headers = self.base_headers(req)
            headers.update(self.rate_headers(self.token_of(req), injected_429=(status == 429)))
            return mockbase.Response(status, self.error_body(text), headers)

    def expire_token(self, req):
        tok = self.token_of(req)
        if tok:
            tok.expires = self.token_now() - 1

    def empty_page(self, req):
        headers = self.base_headers(req)
        headers.update(self.rate_headers(self.token_of(req)))
        return mockbase.Response(200, {"data": []}, headers)

    # -- the token endpoint --------------------------------------------------
    def auth_error(self, status, code, description):
        return mockbase.Response(status, {"error": code, "error_description": description,
                                          "error_id": str(uuid.uuid4())},
                                 {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def token_endpoint(self, req):
        route = req.path.strip("/").split("/")[0]
        if req.method != "POST":
            return self.auth_error(405, "method_not_allowed", "Request Method Not Allowed")
        if route not in self.routes():
            return self.auth_error(404, "not_found", "The requested client is unknown")
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return self.auth_error(415, "unsupported_media_type", "Unsupported Media Type")
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        if not form.get("grant_type"):
            return self.auth_error(400, "invalid_request",
                                   "The request is missing a required parameter, includes an unsupported "
                                   "parameter value, or is otherwise malformed.")
        if form["grant_type"] != "client_credentials":
            return self.auth_error(400, "unsupported_grant_type",
                                   "The authorization grant type is not supported by the authorization server.")
        if form.get("client_id") != self.cfg("client_id") or form.get("client_secret") != self.cfg("client_secret"):
            return self.auth_error(401, "invalid_client",
                                   "Client authentication failed due to unknown client, no client "
                                   "authentication included, or unsupported authentication method.")
        allowed = self.cfg("allowed_scopes")
        allowed = set(allowed.split() if isinstance(allowed, str) else allowed)
        wanted = list(dict.fromkeys(form.get("scope", "").split()))
        if any(s not in allowed for s in wanted):
            return self.auth_error(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        tok = self.mint(form["client_id"], route, wanted)
        body = {"access_token": tok.value, "created_at": int(tok.created),
                "expires_in": int(tok.expires - tok.created), "scope": " ".join(tok.scopes),
                "token_type": "Bearer"}
        return mockbase.Response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def mint(self, client, route, scopes):
        now = self.token_now()
        live = sorted((t for t in self.tokens.values() if t.client == client and t.route == route and t.live(now)),
                      key=lambda t: t.created)
        while live and len(live) >= int(self.cfg("max_tokens")):
            live.pop(0).revoked = True
        tok = Token(secrets.token_urlsafe(32), client, route, scopes, now, int(self.cfg("token_lifetime")))
        self.tokens[tok.value] = tok
        return tok

    # -- data endpoints: headers and errors ----------------------------------
    def error_body(self, text):
        return {"error": text, "error_id": str(uuid.uuid4())}

    def base_headers(self, req):
        return {"X-API-Revision": req.header("X-API-Revision") or str(self.cfg("revision"))}

    def rate_conf(self):
        rl = self.cfg("rate_limit") or {}
        return int(rl.get("limit", 300)), float(rl.get("window", 180))

    def token_of(self, req):
        m = re.fullmatch(r"[Bb][Ee][Aa][Rr][Ee][Rr] (\S+)", req.header("Authorization") or "")
        return self.tokens.get(m.group(1)) if m else None

    def rate_headers(self, tok, injected_429=False):
        """The X-Rate-Limit-* headers for tok's window, without using it up
        (a fresh window when tok is None or its window has closed)."""
        limit, window = self.rate_conf()
        now = self.now()
        w = tok.window if tok else None
        if w is None or w.start is None or now >= w.start + window:
            remaining, reset = limit, now + window
        else:
            remaining, reset = max(0, limit - w.count), w.start + window
        if injected_429:
            remaining, reset = 0, now + 1
        return {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
                "X-Rate-Limit-Reset": self.fmt_reset(reset)}

    def data_endpoint(self, req):
        """GET /ROUTE/v3/PATH[/ID][.json]: the checks in order, then the page."""
        headers = self.base_headers(req)
        tok = None
        try:
            path, rec_id, json_suffix = self.resolve(req)
            self.check_accept(req, json_suffix)
            tok = self.authenticate(req)
            headers.update(self.take_rate(tok))
            scope = scope_of(path, rec_id is not None)
            if scope not in tok.scopes:
                raise HttpError(401, "The provided access token is missing a required scope: %s" % scope)
            return mockbase.Response(200, self.serve(req, path, rec_id), headers)
        except RateLimited as e:
            headers.update(e.headers)
            if self.cfg("retry_after_on_429"):
                wait = float(e.headers["X-Rate-Limit-Reset"]) - self.now()
                headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return mockbase.Response(429, self.error_body(e.text), headers)
        except HttpError as e:
            if "X-Rate-Limit-Limit" not in headers:
                headers.update(self.rate_headers(tok))
            return mockbase.Response(e.status, self.error_body(e.text), headers)

    # -- data endpoints: the checks, in order ----------------------------------
    def resolve(self, req):
        """(endpoint path, record id or None, whether the path ended in .json)."""
        parts = req.path.strip("/").split("/")
        if parts[0] not in self.routes():
            raise HttpError(404, "The requested client is unknown")
        if len(parts) < 3 or parts[1] != "v3":
            raise HttpError(404, "The requested endpoint wasn't found")
        rest = parts[2:]
        json_suffix = rest[-1].endswith(".json")
        if json_suffix:
            rest[-1] = rest[-1][:-5]
        path = "/".join(rest)
        if path in ENDPOINTS:
            self.check_method(req)
            return path, None, json_suffix
        path, last = "/".join(rest[:-1]), rest[-1]
        if path in ENDPOINTS:
            if re.fullmatch(r"(\{|%7[Bb]).*(\}|%7[Dd])", last):
                raise HttpError(400, "The URL path is missing required parameters: id")
            if re.fullmatch(r"\d+", last):
                self.check_method(req)
                return path, int(last), json_suffix
        raise HttpError(404, "The requested endpoint wasn't found")

    @staticmethod
    def check_method(req):
        if req.method != "GET":
            raise HttpError(405, "Request Method Not Allowed")

    @staticmethod
    def q_values(header):
        """{token: q} of an Accept or Accept-Encoding header."""
        out = {}
        for part in (header or "").split(","):
            bits = [b.strip() for b in part.split(";")]
            if not bits[0]:
                continue
            q = 1.0
            for b in bits[1:]:
                if b.lower().startswith("q="):
                    try:
                        q = float(b[2:])
                    except ValueError:
                        q = 0.0
            out[bits[0].lower()] = q
        return out

    def check_accept(self, req, json_suffix):
        accept = req.header("Accept")
        if accept and not json_suffix:
            q = self.q_values(accept)
            if not any(q.get(t, 0) > 0 for t in ("application/json", "application/*", "*/*")):
                raise HttpError(406, "The requested content type isn't supported")
        enc = req.header("Accept-Encoding")
        if enc is not None:
            q = self.q_values(enc)
            star = q.get("*")
            identity = q.get("identity", star if star is not None else 1.0)
            if not (identity > 0 or q.get("deflate", 0) > 0 or (star or 0) > 0):
                raise HttpError(406, "The requested encoding isn't supported")

    def authenticate(self, req):
        values = req.headers.get_all("Authorization") or []
        m = re.fullmatch(r"[Bb][Ee][Aa][Rr][Ee][Rr] (\S+)", values[0]) if len(values) == 1 else None
        if not m:
            raise HttpError(401, "An authorization header with a bearer token is required")
        route = req.path.strip("/").split("/")[0]
        tok = self.tokens.get(m.group(1))
        if tok is None or tok.route != route:
            raise HttpError(401, "The provided access token is unknown")
        if tok.revoked:
            raise HttpError(401, "The provided access token has been revoked")
        if self.token_now() >= tok.expires:
            raise HttpError(401, "The provided access token has expired")
        return tok

    def fmt_reset(self, reset):
        """Epoch seconds, rounded up: whole seconds as Veracross sends them,
        or with `reset_decimals` decimals (a test knob: with whole seconds a
        window that opens at the first request loses up to a second to the
        rounding, and the rate-limit test measures the client, not that)."""
        d = int(self.cfg("reset_decimals") or 0)
        if d <= 0:
            return str(math.ceil(reset))
        scale = 10 ** d
        return "%.*f" % (d, math.ceil(reset * scale) / scale)

    def take_rate(self, tok):
        limit, window = self.rate_conf()
        tok.window.limit, tok.window.window = limit, window
        allowed, remaining, reset = tok.window.take(self.now())
        headers = {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
                   "X-Rate-Limit-Reset": self.fmt_reset(reset)}
        if not allowed:
            raise RateLimited(headers)
        return headers

    # -- data endpoints: the response ------------------------------------------
    def serve(self, req, path, rec_id):
        district = self.ensure_data()
        records = district.collections()[path]
        if rec_id is not None:
            if req.query:
                raise HttpError(400, "Unknown parameters were provided: %s" % self.param_names(req.query))
            rec = next((r for r in records if r["id"] == rec_id), None)
            if rec is None:
                raise HttpError(404, "The requested record wasn't found")
            body = {"data": student_read_shape(rec) if path == "students" else rec}
        else:
            records = self.apply_filters(req, path, records, district)
            number, size = self.paging(req)
            body = {"data": records[(number - 1) * size:number * size]}
        if (req.header("X-API-Value-Lists") or "").strip().lower() == "include":
            lists = district.value_lists()
            fields = ENDPOINT_LISTS[path]
            if self.cfg("extra_value_lists"):
                fields += EXTRA_LISTS.get(path, ())
            body["value_lists"] = [value_list([f], lists[f]) for f in fields]
        return body

    @staticmethod
    def param_names(query):
        return ", ".join(dict.fromkeys(k for k, _ in query))

    def apply_filters(self, req, path, records, district):
        unknown = [(k, v) for k, v in req.query if k not in ENDPOINTS[path]]
        if unknown:
            raise HttpError(400, "Unknown parameters were provided: %s" % self.param_names(unknown))
        for name, value in req.args.items():
            records = self.filter_one(path, name, value, records, district)
        return records

    def filter_one(self, path, name, value, records, district):
        def invalid():
            return HttpError(400, "The provided value for %s is invalid: %s" % (name, value))

        if name in EQUALITY_FILTERS:
            if not re.fullmatch(r"-?\d+", value.strip()):
                raise invalid()
            want = int(value)
            if name == "school_year" and path == "academics/enrollments":
                years = {c["id"]: c["school_year"] for c in district.classes}
                return [r for r in records if years.get(r["internal_class_id"]) == want]
            return [r for r in records if r.get(name) == want]
        after = name.startswith("on_or_after")
        try:
            bound = parse_when(value.strip(), end_of_day=not after)
        except ValueError:
            raise invalid()

        def when(r):
            return parse_when(r["last_modified_date"], False)

        return [r for r in records if (when(r) >= bound if after else when(r) <= bound)]

    def paging(self, req):
        def header_int(name, default):
            raw = req.header(name)
            if raw is None or raw.strip() == "":
                return default
            if not re.fullmatch(r"\d+", raw.strip()):
                return None
            return int(raw)

        number = header_int("X-Page-Number", 1)
        if number is None or number < 1:
            raise HttpError(400, "The X-Page-Number header must be an integer of at least 1")
        size = header_int("X-Page-Size", 100)
        if size is None or not 1 <= size <= 1000:
            raise HttpError(400, "The X-Page-Size header must be an integer from 1 to 1000")
        return number, min(size, int(self.cfg("max_page_size")))


class RateLimited(HttpError):
    """A 429 from the real rate limit, carrying its X-Rate-Limit-* headers."""

    def __init__(self, headers):
        super().__init__(429, "Too Many Requests")
        self.headers = headers


if __name__ == "__main__":
    mockbase.serve(VeracrossMock)
