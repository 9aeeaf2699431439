-- SQLite's migration 7 makes a listing's id the rowid of its pending push
-- and of its last publication. PostgreSQL's tables are heaps with one
-- primary key index each: nothing to change.
SELECT 1;
