//! The organization's users (Genesys) or agents (CXone): versioned records with paging views.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::config::PlatformProfile;

/// One user. Genesys ids are UUIDs; CXone agent ids are integers (kept as their decimal string).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub email: String,
    pub fields: BTreeMap<String, Value>,
}

/// Why an update was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateError {
    NotFound,
    /// Genesys requires `version` on `PATCH /api/v2/users/{id}`.
    MissingVersion,
    /// The version sent is not the current one (409).
    Conflict {
        sent: u64,
        current: u64,
    },
    /// The body is not a JSON object, or tries to change `id`.
    Invalid(&'static str),
}

/// The users, in a stable order (paging walks it).
pub struct Directory {
    platform: PlatformProfile,
    users: Vec<User>,
    index: BTreeMap<String, usize>,
    /// Lower-cased email → position: emails are unique (a duplicate create is a 409).
    by_email: BTreeMap<String, usize>,
}

impl Directory {
    pub fn new(platform: PlatformProfile, count: u64) -> Directory {
        let mut directory = Directory {
            platform,
            users: Vec::new(),
            index: BTreeMap::new(),
            by_email: BTreeMap::new(),
        };
        for number in 0..count {
            let name = format!("User {number:05}");
            directory.insert(name, BTreeMap::new());
        }
        directory
    }

    /// Adds a user and returns its id.
    pub fn insert(&mut self, name: String, fields: BTreeMap<String, Value>) -> String {
        let email = format!("user.{:05}@herd.example", self.users.len());
        self.insert_with_email(name, email, fields)
            .unwrap_or_else(|_| unreachable!("generated emails are unique"))
    }

    /// A new user with its own email; `Err(id)` names the user that already has it.
    pub fn create(
        &mut self,
        name: String,
        email: String,
        fields: BTreeMap<String, Value>,
    ) -> Result<String, String> {
        self.insert_with_email(name, email, fields)
    }

    fn insert_with_email(
        &mut self,
        name: String,
        email: String,
        fields: BTreeMap<String, Value>,
    ) -> Result<String, String> {
        let key = email.to_ascii_lowercase();
        if let Some(&at) = self.by_email.get(&key) {
            return Err(self.users[at].id.clone());
        }
        let id = Directory::id_for(self.platform, self.users.len() as u64);
        self.index.insert(id.clone(), self.users.len());
        self.by_email.insert(key, self.users.len());
        self.users.push(User {
            id: id.clone(),
            name,
            version: 1,
            email,
            fields,
        });
        Ok(id)
    }

    pub fn id_for(platform: PlatformProfile, number: u64) -> String {
        match platform {
            PlatformProfile::Genesys => format!("6a1f0000-0000-4000-8000-{number:012x}"),
            PlatformProfile::Cxone => (100_000 + number).to_string(),
        }
    }

    pub fn len(&self) -> u64 {
        self.users.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&User> {
        self.index.get(id).map(|&at| &self.users[at])
    }

    /// The ids of every user, in paging order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|user| user.id.as_str())
    }

    /// `offset..offset + limit` in paging order.
    pub fn page(&self, offset: u64, limit: u64) -> &[User] {
        let start = (offset.min(self.len())) as usize;
        let end = (offset.saturating_add(limit).min(self.len())) as usize;
        &self.users[start..end]
    }

    /// The views of `offset..offset + limit`, in paging order: a page of a listing's body.
    pub fn page_views(&self, offset: u64, limit: u64) -> Vec<Value> {
        self.page(offset, limit)
            .iter()
            .map(|user| self.view(user))
            .collect()
    }

    /// Applies a patch and returns the new version. `version` is compared when present, and
    /// required when `require_version`.
    pub fn update(&mut self, id: &str, patch: &Value, require_version: bool) -> Result<u64, UpdateError> {
        let object = patch
            .as_object()
            .ok_or(UpdateError::Invalid("the body must be a JSON object"))?;
        let at = *self.index.get(id).ok_or(UpdateError::NotFound)?;
        let user = &mut self.users[at];
        match object.get("version").map(Value::as_u64) {
            Some(Some(sent)) if sent != user.version => {
                return Err(UpdateError::Conflict {
                    sent,
                    current: user.version,
                })
            }
            Some(Some(_)) => {}
            Some(None) => return Err(UpdateError::Invalid("version must be a whole number")),
            None if require_version => return Err(UpdateError::MissingVersion),
            None => {}
        }
        validate_fields(object)?;
        if object.get("id").is_some_and(|sent| {
            sent.as_str() != Some(id) && sent.as_u64().map(|n| n.to_string()).as_deref() != Some(id)
        }) {
            return Err(UpdateError::Invalid("id cannot be changed"));
        }
        let new_names = object
            .keys()
            .filter(|name| is_stored(name) && !user.fields.contains_key(name.as_str()))
            .count();
        if user.fields.len() + new_names > USER_FIELDS_MAX {
            return Err(UpdateError::Invalid(
                "a user holds at most 32 fields besides its identity",
            ));
        }
        apply_fields(user, object);
        user.version += 1;
        Ok(user.version)
    }

    /// The JSON view of a user in this platform's shape.
    pub fn view(&self, user: &User) -> Value {
        let mut object = Map::new();
        match self.platform {
            PlatformProfile::Genesys => {
                object.insert("id".into(), json!(user.id));
                object.insert("name".into(), json!(user.name));
                object.insert("state".into(), json!("active"));
                object.insert("version".into(), json!(user.version));
                object.insert("email".into(), json!(user.email));
                object.insert("selfUri".into(), json!(format!("/api/v2/users/{}", user.id)));
            }
            PlatformProfile::Cxone => {
                object.insert("agentId".into(), json!(user.id.parse::<u64>().unwrap_or(0)));
                object.insert("userName".into(), json!(user.name));
                object.insert("isActive".into(), json!(true));
                object.insert("emailAddress".into(), json!(user.email));
                object.insert("version".into(), json!(user.version));
            }
        }
        for (name, value) in &user.fields {
            object.entry(name.clone()).or_insert_with(|| value.clone());
        }
        Value::Object(object)
    }
}

/// The most fields a user holds beyond its identity, name, version and email: a client that
/// PATCHes new field names forever cannot grow a user (or every read of it) without bound.
pub const USER_FIELDS_MAX: usize = 32;
/// The largest value one stored field may have, as JSON.
pub const FIELD_BYTES_MAX: usize = 1_024;
/// The most users (or agents) a directory holds; creates beyond it are refused.
pub const USERS_MAX: u64 = 100_000;

/// The fields the platform checks: `state` is one of Genesys' user states, `email` and
/// `emailAddress` are addresses, `name` and `userName` are text. Anything else is stored as sent.
pub fn validate_fields(object: &Map<String, Value>) -> Result<(), UpdateError> {
    let stored = object.iter().filter(|(name, _)| is_stored(name));
    if stored.clone().count() > USER_FIELDS_MAX {
        return Err(UpdateError::Invalid(
            "a user holds at most 32 fields besides its identity",
        ));
    }
    if stored
        .into_iter()
        .any(|(_, value)| value.to_string().len() > FIELD_BYTES_MAX)
    {
        return Err(UpdateError::Invalid(
            "a field's value is at most 1024 bytes of JSON",
        ));
    }
    if let Some(state) = object.get("state") {
        if !matches!(state.as_str(), Some("active" | "inactive" | "deleted")) {
            return Err(UpdateError::Invalid("state must be active, inactive or deleted"));
        }
    }
    for name in ["email", "emailAddress"] {
        if object
            .get(name)
            .is_some_and(|email| !email.as_str().is_some_and(|text| text.contains('@')))
        {
            return Err(UpdateError::Invalid("email is not a valid address"));
        }
    }
    for name in ["name", "userName"] {
        if object.get(name).is_some_and(|text| !text.is_string()) {
            return Err(UpdateError::Invalid("name must be text"));
        }
    }
    Ok(())
}

/// Whether a field is stored as sent (not the identity, name, version or email).
fn is_stored(name: &str) -> bool {
    !matches!(
        name,
        "id" | "agentId" | "version" | "selfUri" | "email" | "emailAddress" | "name" | "userName"
    )
}

/// Every field but the identity, version and email fields is stored as sent.
fn apply_fields(user: &mut User, object: &Map<String, Value>) {
    for (name, value) in object {
        match name.as_str() {
            "id" | "agentId" | "version" | "selfUri" | "email" | "emailAddress" => {}
            "name" | "userName" => {
                if let Some(text) = value.as_str() {
                    user.name = text.to_string();
                }
            }
            _ => {
                user.fields.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_updates_conflict_on_stale_versions() {
        let mut directory = Directory::new(PlatformProfile::Genesys, 3);
        let id = directory.ids().nth(1).unwrap().to_string();
        assert_eq!(
            directory.update(&id, &json!({"version": 1, "department": "Sales"}), true),
            Ok(2)
        );
        assert_eq!(
            directory.update(&id, &json!({"version": 1, "department": "Ops"}), true),
            Err(UpdateError::Conflict { sent: 1, current: 2 })
        );
        assert_eq!(
            directory.update(&id, &json!({"department": "Ops"}), true),
            Err(UpdateError::MissingVersion)
        );
        assert_eq!(
            directory.update("nobody", &json!({"version": 1}), true),
            Err(UpdateError::NotFound)
        );
        assert!(matches!(
            directory.update(&id, &json!([1]), true),
            Err(UpdateError::Invalid(_))
        ));
        let view = directory.view(directory.get(&id).unwrap());
        assert_eq!(view["department"], "Sales");
        assert_eq!(view["version"], 2);
    }

    #[test]
    fn pages_are_clamped() {
        let directory = Directory::new(PlatformProfile::Cxone, 5);
        assert_eq!(directory.page(0, 2).len(), 2);
        assert_eq!(directory.page(4, 10).len(), 1);
        assert_eq!(directory.page(9, 10).len(), 0);
        assert_eq!(directory.page(0, 1)[0].id, "100000");
        assert_eq!(directory.view(&directory.page(0, 1)[0])["agentId"], 100_000);
    }
}
