-- Every commit that changes what a replica may keep in memory (users, API
-- tokens, credentials, sessions, sharing, sources, destinations) notifies the
-- `pinion_changes` channel; each replica's listener then drops what it kept
-- (crates/store/src/changes.rs). NOTIFY is delivered on commit only and
-- folded per transaction, so a rolled-back write notifies nobody. High-churn
-- tables (runs, sync state, OAuth flows, activity) do not notify.
CREATE FUNCTION pinion_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pinion_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER api_tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER web_sessions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON web_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER credential_shares_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credential_shares
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER sources_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sources
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
CREATE TRIGGER destinations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON destinations
    FOR EACH STATEMENT EXECUTE FUNCTION pinion_notify_change();
