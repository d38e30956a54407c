// One schema for both backends: only types that PostgreSQL and SQLite share.

diesel::table! {
    units (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        level -> Text,
        parent_id -> Nullable<Text>,
        path -> Text,
        active -> Bool,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        full_name -> Text,
        national_id -> Nullable<Text>,
        phone -> Nullable<Text>,
        roles -> Text,
        unit_id -> Nullable<Text>,
        active -> Bool,
        locale -> Text,
        email_verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        national_id_claim -> Nullable<Text>,
        national_id_verified_at -> Nullable<Timestamp>,
        national_id_verified_by -> Nullable<Text>,
        national_id_verified_unit_id -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    procedures (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        field -> Text,
        levels -> Text,
        processing_days -> Integer,
        cutoff_hour -> Integer,
        fee_vnd -> BigInt,
        online_level -> Text,
        result_is_document -> Bool,
        active -> Bool,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// The code in the national procedure database (MaTTHC).
        national_code -> Nullable<Text>,
        /// Its result is a copy certified from an original (docs/statistics.md).
        certifies_copies -> Bool,
    }
}

diesel::table! {
    procedure_components (id) {
        id -> Text,
        procedure_id -> Text,
        position -> Integer,
        name -> Text,
        mandatory -> Bool,
        e_copy_accepted -> Bool,
    }
}

diesel::table! {
    holidays (day) {
        day -> Date,
        kind -> Text,
        name -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        dossier_id -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        /// `email` or `portal` (`notify::outbox::Channel`).
        channel -> Text,
        /// A portal record's place in its dossier's order.
        seq -> Nullable<Integer>,
        /// A portal record's change: its history is the events of this
        /// audit entry (none: the dossier's whole history).
        audit_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Where each dossier's mirror on the national portal stands (src/portal/).
    portal_sync (dossier_id) {
        dossier_id -> Text,
        latest_seq -> Integer,
        acked_seq -> Integer,
        waiting_since -> Nullable<Timestamp>,
        acked_at -> Nullable<Timestamp>,
        failing -> Bool,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    /// Dossiers filed on the national portal, with the portal's own code.
    portal_dossiers (dossier_id) {
        dossier_id -> Text,
        portal_code -> Text,
        request_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    scheduled_runs (job) {
        job -> Text,
        last_run_on -> Date,
    }
}

diesel::joinable!(procedure_components -> procedures (procedure_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(users -> units (unit_id));

diesel::table! {
    dossiers (id) {
        id -> Text,
        code -> Text,
        procedure_id -> Text,
        unit_id -> Text,
        receiving_unit_id -> Text,
        applicant_user_id -> Nullable<Text>,
        applicant_kind -> Text,
        applicant_name -> Text,
        applicant_national_id -> Nullable<Text>,
        applicant_email -> Nullable<Text>,
        applicant_phone -> Nullable<Text>,
        applicant_address -> Nullable<Text>,
        form_data -> Text,
        channel -> Text,
        status -> Text,
        assignee_id -> Nullable<Text>,
        submitted_at -> Timestamp,
        received_at -> Nullable<Timestamp>,
        due_at -> Nullable<Timestamp>,
        original_due_at -> Nullable<Timestamp>,
        paused_at -> Nullable<Timestamp>,
        result_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        supplement_requests -> Integer,
        fee_vnd -> BigInt,
        version -> Integer,
        queue_at -> Timestamp,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        payment_channel -> Nullable<Text>,
    }
}

diesel::table! {
    dossier_processes (dossier_id) {
        dossier_id -> Text,
        process_id -> Text,
        pinned_at -> Timestamp,
        unit_id -> Nullable<Text>,
        step -> Nullable<Integer>,
        step_role -> Nullable<Text>,
        step_started_at -> Nullable<Timestamp>,
        step_due_at -> Nullable<Timestamp>,
        handed_by -> Nullable<Text>,
        step_alerted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    processes (id) {
        id -> Text,
        procedure_id -> Text,
        scope -> Text,
        version -> Integer,
        separation_of_duties -> Bool,
        steps -> Text,
        note -> Text,
        builtin -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dossier_facts (dossier_id) {
        dossier_id -> Text,
        digitized -> Bool,
        reused -> Bool,
        e_result -> Bool,
        apologized -> Bool,
        working_days_taken -> Nullable<Integer>,
        steps_early -> Integer,
        steps_on_time -> Integer,
        steps_late -> Integer,
    }
}

diesel::table! {
    dossier_desks (dossier_id) {
        dossier_id -> Text,
        unit_id -> Text,
    }
}

diesel::table! {
    step_counts (day, unit_id, procedure_id, step, step_name) {
        day -> Date,
        unit_id -> Text,
        procedure_id -> Text,
        step -> Integer,
        step_name -> Text,
        completed -> Integer,
        late -> Integer,
        delay_minutes -> BigInt,
    }
}

diesel::table! {
    /// The statistics' counts per local day, receiving unit and procedure (`domain::daily`).
    daily_counts (day, unit_id, procedure_id, desk_id) {
        day -> Date,
        unit_id -> Text,
        procedure_id -> Text,
        /// The desk that received the dossiers: the unit itself, or another
        /// unit's desk (`dossier_desks`).
        desk_id -> Text,
        received -> Integer,
        received_online -> Integer,
        received_counter -> Integer,
        received_postal -> Integer,
        digitized -> Integer,
        reused -> Integer,
        fee_bearing -> Integer,
        paid_online -> Integer,
        finished -> Integer,
        finished_on_time -> Integer,
        processing_days -> Integer,
        document_results -> Integer,
        e_results -> Integer,
        finished_late_apologized -> Integer,
        ratings -> Integer,
        ratings_satisfied -> Integer,
        in_progress -> Integer,
        in_progress_on_time -> Integer,
        in_progress_late_apologized -> Integer,
        finished_within -> Integer,
        in_progress_within -> Integer,
        assessed -> Integer,
        assessment_points -> Integer,
        certified_copies_requested -> Integer,
        certified_copies_done -> Integer,
        fully_online -> Integer,
    }
}

diesel::table! {
    /// The daily counts summed per local month (`stats::daily`).
    monthly_counts (month, unit_id, procedure_id, desk_id) {
        /// The first day of the local month.
        month -> Date,
        unit_id -> Text,
        procedure_id -> Text,
        /// The desk that received the dossiers: the unit itself, or another
        /// unit's desk (`dossier_desks`).
        desk_id -> Text,
        received -> Integer,
        received_online -> Integer,
        received_counter -> Integer,
        received_postal -> Integer,
        digitized -> Integer,
        reused -> Integer,
        fee_bearing -> Integer,
        paid_online -> Integer,
        finished -> Integer,
        finished_on_time -> Integer,
        processing_days -> Integer,
        document_results -> Integer,
        e_results -> Integer,
        finished_late_apologized -> Integer,
        ratings -> Integer,
        ratings_satisfied -> Integer,
        in_progress -> Integer,
        in_progress_on_time -> Integer,
        in_progress_late_apologized -> Integer,
        finished_within -> Integer,
        in_progress_within -> Integer,
        assessed -> Integer,
        assessment_points -> Integer,
        certified_copies_requested -> Integer,
        certified_copies_done -> Integer,
        fully_online -> Integer,
    }
}

diesel::table! {
    /// The 18-point assessment of a dossier (`domain::assessment`).
    dossier_assessments (dossier_id) {
        dossier_id -> Text,
        assessed_at -> Timestamp,
        total -> Integer,
        indices -> Text,
    }
}

diesel::table! {
    ratings (dossier_id) {
        dossier_id -> Text,
        rated_by -> Text,
        reception -> Text,
        processing_time -> Text,
        staff_conduct -> Text,
        result -> Text,
        comment -> Nullable<Text>,
        satisfied -> Bool,
        flagged -> Bool,
        rated_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    dossier_units (dossier_id, unit_id) {
        dossier_id -> Text,
        unit_id -> Text,
    }
}

diesel::table! {
    dossier_components (id) {
        id -> Text,
        dossier_id -> Text,
        position -> Integer,
        name -> Text,
        mandatory -> Bool,
        e_copy_accepted -> Bool,
        digitization -> Text,
        reused_document_id -> Nullable<Text>,
    }
}

diesel::table! {
    dossier_files (id) {
        id -> Text,
        dossier_id -> Text,
        component_id -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        content_type -> Text,
        file_name -> Text,
        uploaded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dossier_events (id) {
        id -> Text,
        dossier_id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Text,
        unit_id -> Nullable<Text>,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        summary -> Text,
        payload -> Text,
        audit_id -> Nullable<Text>,
        on_behalf_of -> Nullable<Text>,
    }
}

diesel::table! {
    delegations (id) {
        id -> Text,
        delegator_id -> Text,
        delegate_id -> Text,
        unit_id -> Text,
        roles -> Text,
        reason -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sequences (name, period) {
        name -> Text,
        period -> Text,
        last_value -> Integer,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        dossier_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (id) {
        id -> Text,
        public_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    result_drafts (dossier_id) {
        dossier_id -> Text,
        title -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        file_name -> Text,
        uploaded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    results (id) {
        id -> Text,
        number -> Text,
        dossier_id -> Text,
        title -> Text,
        issuing_unit_id -> Text,
        issuing_unit_code -> Text,
        issuing_unit_name -> Text,
        signer_id -> Text,
        signer_name -> Text,
        issued_at -> Timestamp,
        sha256 -> Text,
        size_bytes -> BigInt,
        file_name -> Text,
        key_id -> Text,
        signature -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        status_changed_at -> Nullable<Timestamp>,
        replaces_id -> Nullable<Text>,
        replaced_by_id -> Nullable<Text>,
    }
}

diesel::table! {
    repository_documents (id) {
        id -> Text,
        owner_user_id -> Nullable<Text>,
        owner_national_id -> Nullable<Text>,
        source -> Text,
        document_type -> Text,
        digitization -> Nullable<Text>,
        sha256 -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        file_name -> Text,
        source_dossier_id -> Text,
        result_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        dossier_id -> Text,
        channel -> Text,
        provider -> Nullable<Text>,
        provider_ref -> Nullable<Text>,
        amount_vnd -> BigInt,
        status -> Text,
        checkout_url -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        created_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        settled_fee -> Bool,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        seq -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Text,
        unit_id -> Nullable<Text>,
        unit_path -> Nullable<Text>,
        method -> Text,
        route -> Text,
        action -> Text,
        target -> Nullable<Text>,
        status -> Integer,
        request_id -> Text,
        client_address -> Nullable<Text>,
        summary -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_pending (id) {
        id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Text,
        unit_id -> Nullable<Text>,
        unit_path -> Nullable<Text>,
        method -> Text,
        route -> Text,
        action -> Text,
        target -> Nullable<Text>,
        status -> Integer,
        request_id -> Text,
        client_address -> Nullable<Text>,
        summary -> Text,
    }
}

diesel::joinable!(dossiers -> procedures (procedure_id));
diesel::joinable!(dossier_assessments -> dossiers (dossier_id));
diesel::joinable!(processes -> procedures (procedure_id));
diesel::joinable!(dossier_processes -> processes (process_id));
diesel::joinable!(dossier_processes -> dossiers (dossier_id));
diesel::joinable!(dossier_desks -> units (unit_id));
diesel::joinable!(dossier_desks -> dossiers (dossier_id));
diesel::joinable!(dossier_units -> dossiers (dossier_id));
diesel::joinable!(dossier_units -> units (unit_id));
diesel::joinable!(dossier_components -> dossiers (dossier_id));
diesel::joinable!(dossier_files -> dossier_components (component_id));
diesel::joinable!(dossier_events -> dossiers (dossier_id));
diesel::joinable!(outbox -> dossiers (dossier_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(payments -> dossiers (dossier_id));
diesel::joinable!(ratings -> dossiers (dossier_id));
diesel::joinable!(dossier_facts -> dossiers (dossier_id));
diesel::joinable!(daily_counts -> units (unit_id));
diesel::joinable!(daily_counts -> procedures (procedure_id));
diesel::joinable!(result_drafts -> dossiers (dossier_id));
diesel::joinable!(portal_sync -> dossiers (dossier_id));
diesel::joinable!(portal_dossiers -> dossiers (dossier_id));

diesel::table! {
    complaints (id) {
        id -> Text,
        applicant_id -> Text,
        dossier_id -> Nullable<Text>,
        unit_id -> Text,
        subject -> Text,
        content -> Text,
        state -> Text,
        lodged_at -> Timestamp,
        due_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        answered_by -> Nullable<Text>,
        answer -> Nullable<Text>,
        substantiated -> Nullable<Bool>,
        answered_on_time -> Nullable<Bool>,
        /// The lodging's `Idempotency-Key`, and the hash of its request.
        idempotency_key -> Nullable<Text>,
        request_hash -> Nullable<Text>,
    }
}

diesel::joinable!(complaints -> units (unit_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_tokens,
    audit_log,
    audit_pending,
    complaints,
    daily_counts,
    monthly_counts,
    delegations,
    dossier_assessments,
    dossier_components,
    dossier_desks,
    dossier_events,
    dossier_facts,
    dossier_files,
    dossier_processes,
    dossier_units,
    dossiers,
    holidays,
    idempotency_keys,
    outbox,
    payments,
    portal_dossiers,
    portal_sync,
    procedure_components,
    procedures,
    processes,
    ratings,
    refresh_tokens,
    repository_documents,
    result_drafts,
    results,
    scheduled_runs,
    sequences,
    signing_keys,
    step_counts,
    units,
    users,
);

// The units of a caller's subtree, as a subquery beside a query that joins
// `units` itself.
diesel::alias!(units as scope_units: ScopeUnits);
// The account whose role an actor borrowed, beside the actor's own.
diesel::alias!(users as delegators: Delegators);
