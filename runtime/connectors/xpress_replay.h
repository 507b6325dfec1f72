/* xpress_replay.h: xPress Roster (RICOne) responses recorded in a directory,
 * decoded into the records of one hub entity.
 *
 * The replay layout (syncvm plan|apply --replay SOURCE=DIR): per resource
 * (xLeas, xSchools, xCalendars, xCourses, xRosters, xStaffs, xStudents,
 * xContacts), DIR/RESOURCE.json or a DIR/RESOURCE/ directory of pages
 * NNNN.json read in name order, each a response body as the API sends it.
 * The live connector writes its responses in the same layout, so one decoder
 * serves both.  stdlib/xpress.sync's header is the contract: which record each
 * entity receives and which fields the decoder synthesises.
 */
#ifndef SYNC_XPRESS_REPLAY_H
#define SYNC_XPRESS_REPLAY_H

#include <jansson.h>
#include <stddef.h>

/* The records of hub entity `entity` (an ENT_ value of schema.h) decoded from
 * the responses recorded in DIR: a new array of objects, possibly empty.
 * NULL and a message (naming the directory or the page) when the resource
 * the entity comes from is not recorded, or a page cannot be read. */
json_t *xpress_records(const char *dir, int entity, char *err, size_t errsize);

/* Appends the records of one response body of RESOURCE ("xStudents") to
 * `out`.  Every form of the envelope is taken: {"xStudents": {"xStudent":
 * [...]}}, the same with one object instead of the array, {"xStudents":
 * [...]}, a bare array, {"xStudent": ...}, and an empty, null or missing
 * inner value (no records).  Returns 0 when the body is none of these. */
int xpress_page_items(json_t *doc, const char *resource, json_t *out);

#endif
