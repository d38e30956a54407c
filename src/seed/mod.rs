//! Demo data for the local profile: Quảng Ninh's units, a small catalogue and
//! one account per role. Never run by the production profile.

use std::collections::HashMap;

use serde::Deserialize;

use crate::auth::password;
use crate::db::Db;
use crate::domain::roles::Role;
use crate::domain::units::Level;
use crate::error::ApiError;
use crate::procedures::{self, ProcedureSpec};
use crate::staff::NewStaff;
use crate::units;

const DEMO: &str = include_str!("demo.toml");

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "motcua-demo-2025";

/// Demo accounts: e-mail, roles and the code of their unit (`None`: citizen).
pub const DEMO_ACCOUNTS: [(&str, Role, Option<&str>); 6] = [
    ("admin@motcua.local", Role::Admin, Some("22")),
    ("auditor@motcua.local", Role::Auditor, Some("22")),
    ("clerk@motcua.local", Role::Clerk, Some("193")),
    ("specialist@motcua.local", Role::Specialist, Some("193")),
    ("approver@motcua.local", Role::Approver, Some("193")),
    ("citizen@motcua.local", Role::Citizen, None),
];

#[derive(Deserialize)]
struct DemoData {
    units: Vec<DemoUnit>,
    procedures: Vec<ProcedureSpec>,
    processes: Vec<DemoProcess>,
}

/// The internal process of a demo procedure, by its code.
#[derive(Deserialize)]
struct DemoProcess {
    procedure: String,
    note: String,
    steps: Vec<crate::domain::process::StepSpec>,
}

#[derive(Deserialize)]
struct DemoUnit {
    code: String,
    name: String,
    level: Level,
    parent: Option<String>,
}

/// Seeds the demo data unless the demo province already exists. Returns
/// whether anything was written.
pub async fn demo(db: &Db) -> anyhow::Result<bool> {
    let data: DemoData = toml::from_str(DEMO)?;
    let province = data.units[0].code.clone();
    if db
        .run(move |conn| Ok(units::find_by_code(conn, &province)?))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_some()
    {
        return Ok(false);
    }
    let mut hashes = Vec::new();
    for _ in DEMO_ACCOUNTS {
        hashes.push(password::hash(DEMO_PASSWORD.into()).await.map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let seeded = db
        .write(move |conn| {
            // Several instances may start at once on an empty PostgreSQL
            // database: one seeds, the others wait and then find it seeded.
            crate::db::backend::lock_for_transaction(conn, crate::db::backend::Lock::Seed)?;
            if units::find_by_code(conn, &data.units[0].code)?.is_some() {
                return Ok(false);
            }
            let mut by_code = HashMap::new();
            for u in &data.units {
                let parent = u.parent.as_ref().and_then(|p| by_code.get(p));
                let row = units::create(conn, &u.code, &u.name, u.level, parent)?;
                by_code.insert(u.code.clone(), row);
            }
            let mut procedure_ids = HashMap::new();
            for mut spec in data.procedures {
                spec.validate()?;
                let id = uuid::Uuid::now_v7().to_string();
                procedures::save(conn, &id, &spec, true, true)?;
                procedure_ids.insert(spec.code.clone(), id);
            }
            for p in &data.processes {
                let procedure = procedure_ids.get(&p.procedure).expect("demo processes name demo procedures");
                let scope = crate::domain::process::Scope::All;
                crate::processes::save(conn, procedure, &scope, true, &p.steps, &p.note, None)?;
            }
            for ((email, role, unit), hash) in DEMO_ACCOUNTS.into_iter().zip(hashes) {
                let full_name = format!("Demo {role}");
                match unit.and_then(|u| by_code.get(u)) {
                    Some(unit) => {
                        NewStaff::parse(email, &full_name, DEMO_PASSWORD, &[role], None)?.insert(conn, unit, hash)?;
                    }
                    None => insert_demo_citizen(conn, email, hash)?,
                }
            }
            Ok::<_, ApiError>(true)
        })
        .await
        .map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))?;
    if seeded {
        tracing::info!("demo data seeded: log in as admin@motcua.local / {DEMO_PASSWORD}");
    }
    Ok(seeded)
}

fn insert_demo_citizen(conn: &mut crate::db::DbConnection, email: &str, hash: String) -> Result<(), ApiError> {
    use diesel::prelude::*;
    let at = crate::time::now();
    let row = crate::auth::users::UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.into(),
        password_hash: hash,
        full_name: "Nguyễn Văn An".into(),
        national_id: Some("022095001234".into()),
        phone: Some("0912345678".into()),
        roles: Role::Citizen.as_str().into(),
        unit_id: None,
        active: true,
        locale: "vi".into(),
        email_verified_at: Some(at),
        created_at: at,
        updated_at: at,
        // The demo citizen's national ID counts as seen at a desk.
        national_id_claim: None,
        national_id_verified_at: Some(at),
        national_id_verified_by: None,
        national_id_verified_unit_id: None,
    };
    diesel::insert_into(crate::db::schema::users::table).values(&row).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_consistent() {
        let data: DemoData = toml::from_str(DEMO).unwrap();
        let mut levels = HashMap::new();
        for u in &data.units {
            let parent = u.parent.as_ref().map(|p| *levels.get(p).expect("parents come first"));
            assert!(u.level.may_sit_under(parent), "{} under {:?}", u.code, u.parent);
            assert!(levels.insert(u.code.clone(), u.level).is_none(), "duplicate {}", u.code);
        }
        assert_eq!(levels.values().filter(|l| **l == Level::District).count(), 13);
        let minutes_per_day = crate::domain::calendar::OfficeHours::default().minutes_per_day();
        for p in &data.processes {
            let procedure = data.procedures.iter().find(|s| s.code == p.procedure).expect("a demo procedure");
            crate::domain::process::validate(&p.steps, procedure.processing_days as u32, minutes_per_day).unwrap();
        }
        let mut with_process: Vec<&str> = data.processes.iter().map(|p| p.procedure.as_str()).collect();
        with_process.sort();
        with_process.dedup();
        assert_eq!(with_process.len(), data.procedures.len(), "every demo procedure has its process");
        for mut p in data.procedures {
            p.validate().unwrap();
        }
        for (_, _, unit) in DEMO_ACCOUNTS {
            assert!(unit.is_none_or(|u| levels.contains_key(u)));
        }
    }
}
