-- PostgreSQL's migration 8 drops the foreign keys of publication_log (their
-- checks lock the listing of every push). SQLite keeps them, as in 6.
SELECT 1;
