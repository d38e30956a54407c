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

diesel::joinable!(procedure_components -> procedures (procedure_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(users -> units (unit_id));

diesel::allow_tables_to_appear_in_same_query!(holidays, procedure_components, procedures, refresh_tokens, units, users,);
