//! The store's integration tests. Each suite function runs on SQLite always and
//! on PostgreSQL when `PINION_TEST_POSTGRES_URL` is set (each test in its own
//! fresh database); without it the PostgreSQL runs say they were skipped.

mod at_rest;
mod backend;
mod bounds;
mod changes;
mod due;
mod helpers;
mod keys;
mod notifications;
mod rate;
mod runs;
mod sharing;
mod suite;
mod sync_state;
mod web_state;

/// Declares one test per suite function on each backend.
macro_rules! on_both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = crate::helpers::TestDb::sqlite();
                    crate::$module::$test(&db).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(db) = crate::helpers::TestDb::postgres(stringify!($test)) {
                        crate::$module::$test(&db).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    bounds::concurrent_flows_past_the_cap_expire_the_oldest,
    bounds::the_latest_check_is_kept_replaced_and_deleted_with_its_credential,
    changes::the_change_feed_moves_on_every_write_here_and_elsewhere,
    changes::consuming_a_flow_and_appending_activity_move_the_feed_at_once,
    suite::created_credential_reads_back_as_metadata_only,
    suite::only_one_first_user_is_made_across_pools,
    suite::credentials_are_listed_per_owner_and_in_full,
    suite::missing_records_are_not_found,
    suite::update_changes_fields_bumps_version_and_reseals_the_secret,
    suite::changing_the_client_id_discards_tokens,
    suite::delete_removes_the_credential_and_its_tokens,
    suite::names_are_unique_per_owner_ignoring_case,
    suite::a_failed_update_rolls_back_every_field,
    suite::set_tokens_is_a_compare_and_set,
    suite::a_token_set_without_refresh_token_keeps_the_stored_one,
    suite::set_status_records_the_error_and_tokens_clear_it,
    suite::a_check_is_recorded_without_touching_anything_else,
    suite::users_and_api_tokens,
    due::the_batch_claim_and_the_due_rule_agree_and_spare_short_lived_tokens,
    due::a_claim_naming_a_replaced_token_is_not_needed,
    at_rest::no_secret_appears_in_the_stored_bytes,
    at_rest::ciphertext_moved_between_rows_or_columns_fails_to_decrypt,
    keys::rotation_reencrypts_in_batches_resumes_and_retires_the_old_key,
    keys::a_process_with_an_old_key_file_reloads_it_after_rotation,
    keys::a_process_without_the_new_key_names_the_record_it_cannot_open,
    keys::a_wrong_missing_or_malformed_key_is_refused_with_a_clear_message,
    keys::refusals_leave_the_database_byte_identical,
    keys::rotation_also_reencrypts_authorization_flows,
    rate::reservations_from_two_pools_queue_up_one_interval_apart,
    rate::a_hold_pushes_a_lane_back_and_never_forward,
    rate::a_credentials_pinterest_account_is_kept_until_forgotten,
    web_state::a_session_names_its_user_until_it_expires_or_is_deleted,
    web_state::deleting_a_users_sessions_signs_out_every_browser,
    web_state::sources_are_listed_per_owner_and_per_credential,
    web_state::destinations_are_listed_per_owner_and_per_credential,
    runs::a_run_goes_from_queued_to_its_final_counts,
    runs::a_run_is_claimed_once_its_owner_is_gone_and_only_its_owner_ends_it,
    runs::named_api_tokens_are_listed_revoked_by_owner_and_note_their_use,
    runs::deleting_a_source_takes_its_runs_and_sync_state_unless_a_run_is_going,
    runs::a_source_is_changed_by_its_owner_when_no_run_is_going_and_starts_afresh,
    runs::a_finished_run_is_deleted_by_its_owner_and_runs_are_found_by_credential,
    sharing::shares_are_active_withdrawn_or_never_made_and_log_in_one_transaction,
    sharing::the_activity_log_is_paginated_append_only_and_outlives_its_credential,
    notifications::events_are_queued_claimed_once_retried_and_logged_per_attempt,
    notifications::an_endpoint_failing_for_the_whole_period_is_disabled_and_can_be_enabled,
    notifications::alerts_announce_once_and_recovery_follows_only_an_alert,
    notifications::changes_a_stopped_process_left_unannounced_are_found_until_announced,
    notifications::webhook_secrets_are_sealed_and_reencrypted_with_the_rest,
    notifications::one_caller_claims_each_due_health_check,
    sync_state::sync_runs_resume_per_job_and_promote_watermarks_only_on_success,
    sync_state::the_publish_ledger_keeps_the_first_send_and_confirmed_ids_per_target,
    sync_state::a_sync_state_database_holds_only_the_sync_state_migration,
    sync_state::a_stores_database_opened_as_sync_state_is_left_as_it_is,
    sync_state::sync_state_written_by_an_earlier_version_is_adopted,
);
