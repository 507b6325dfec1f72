# bench/vc_students.jq: jq's equivalent of bench/vc_students.sync, the
# reference bench/run times syncvm's student map and filter against.
#
#     jq -n -c -f bench/vc_students.jq DIR/students/*.json
#
# Reads every recorded /students page (in name order), decodes the coded
# fields with the value lists of page 1 as syncvm's replay does, applies
# stdlib/veracross.sync's `map veracross.student`, then the spec's filter
# and requirements, and prints one JSON object per kept student:
#
#   sis_id          "VC-" + id (the source prefix)
#   first_name, middle_name, last_name, username   as sent
#   preferred_name  preferred_name, else first_name
#   email           email_1 lower-cased (ASCII), trimmed
#   birth_date      birthday as sent: bench/gen writes ISO dates, which
#                   date() returns unchanged (jq does not re-parse them)
#   gender          gender's description in its value list
#   grade           grade(grade_level's description): "Kindergarten" ->
#                   "KG", "Grade N" -> N in two digits (worked out once per
#                   value-list item, as syncvm caches its grade lookups)
#   graduation_year graduation_year
#   school          campus.id as text (`schools vc { auto }`)
#   status          "active" when enrollment_status's description is
#                   "Enrolled", else "inactive"
#
# then keeps a student only when status is "active", grade is one of KG,
# 01..12, the e-mail does not end in @sandbox.bench.example (any case),
# and none of sis_id, first_name, last_name, school is null or blank.

# field -> {item id as text -> description}, from one page's value lists
def lists:
  reduce (.value_lists // [])[] as $vl ({};
    reduce ($vl.fields | if type == "string" then [.] else . end)[] as $f (.;
      reduce $vl.items[] as $it (.; .[$f | sub("\\.id$"; "")][$it.id | tostring] = $it.description)));

# a coded field's description: a bare id is looked up, an object keeps its own
def described($l; $f):
  .[$f] as $v
  | if $v == null then null
    elif ($v | type) == "object" then ($v.description // $l[$f][$v.id | tostring])
    else $l[$f][$v | tostring] end;

def grade_code:
  if . == "Kindergarten" then "KG"
  elif . != null and startswith("Grade ") then (ltrimstr("Grade ") | tonumber | if . < 10 then "0\(.)" else tostring end)
  else null end;

def present: . != null and (type != "string" or test("\\S"));

input as $first
| ($first | lists) as $l
| ($l.grade_level // {} | map_values(grade_code)) as $grades
| ([("KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12") | {key: ., value: true}] | from_entries) as $k12
| ($first, inputs) | .data[]
| {sis_id: ("VC-" + (.id | tostring)),
   first_name, middle_name, last_name,
   preferred_name: (.preferred_name // .first_name),
   email: (.email_1 | if . == null then null else ascii_downcase | sub("^\\s+"; "") | sub("\\s+$"; "") end),
   username,
   birth_date: .birthday,
   gender: described($l; "gender"),
   grade: $grades[(.grade_level | tostring)],
   graduation_year,
   school: (.campus.id | if . == null then null else tostring end),
   status: (if described($l; "enrollment_status") == "Enrolled" then "active" else "inactive" end)}
| select(.status == "active")
| select($k12[.grade // ""])
| select(.email == null or (.email | test("@sandbox\\.bench\\.example$"; "i") | not))
| select((.sis_id | present) and (.first_name | present) and (.last_name | present) and (.school | present))
