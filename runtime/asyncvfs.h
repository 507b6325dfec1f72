/* asyncvfs.h: SQLite's writes to the hub and to its temporary files, made
 * on a second thread.
 *
 * A first sync writes the whole hub: 320 MB at 100,000 students, 3.2 GB at
 * a million, and as much again in the sorter's temporary files while the
 * indexes are made.  Each write copies a page into the kernel's file
 * cache, and on the virtual machines syncvm runs on (bgwrite.h says why)
 * that copy into fresh pages was a sixth of the time the thread that
 * writes the hub spent, at a million students, while the other core had
 * nothing to do for the last third of the apply.  This VFS wraps SQLite's
 * default one and hands such writes to a bgwriter.
 *
 * What may wait, and why the hub stays as safe as without it:
 *  - a write to a main database file, only while this connection holds
 *    its EXCLUSIVE lock (in rollback-journal mode: no other connection
 *    reads the file then; WAL mode never writes it under that lock, but
 *    for a checkpoint of an exclusive-mode WAL, which syncs first);
 *  - a write to a private temporary file (the sorter's, a statement's
 *    journal), which no crash recovery ever reads.
 * Every other call on that file (a read, its size, a sync, a lock or an
 * unlock, a truncate, a file control, a close) first waits until every
 * write taken is in the file, and so does every call on the database's
 * journal or WAL file and the deletion of its journal.  The kernel thus
 * sees the same writes in the same order relative to everything else on
 * the database and its journal, only later: a crash can leave no state a
 * crash of plain SQLite could not.  A write that fails is reported to the
 * next call that waits, as SQLite's own error for it, and the file writes
 * in place from then on (so that a rollback can still write).
 */
#ifndef SYNC_ASYNCVFS_H
#define SYNC_ASYNCVFS_H

/* The VFS's name for sqlite3_open_v2, registered (not as the default) on
 * the first call; NULL when it cannot be. */
const char *asyncvfs_name(void);
/* How many writes have waited for a thread, in this process (for tests). */
long long asyncvfs_writes_waited(void);

#endif
