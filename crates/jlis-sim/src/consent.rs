//! 4-info provision consents (最新の利用者情報提供の同意): valid ten years, survive revocations,
//! withdrawable at any time.

use time::OffsetDateTime;

use crate::ca::add_years;
use crate::error::{Result, SimError};
use crate::store::{Consent, Simulator};

impl Simulator {
    /// Records a consent by `holder` for `sp_id`, given with the holder's current signing
    /// certificate.
    pub fn add_consent(&self, sp_id: &str, holder: &str, at: OffsetDateTime) -> Result<Consent> {
        if sp_id.is_empty() || sp_id.len() > 128 {
            return Err(SimError::arg("sp_id", "must be 1 to 128 characters"));
        }
        self.mutate(|st| {
            let h = st.holders.get(holder).ok_or_else(|| SimError::NotFound {
                what: "holder",
                id: holder.into(),
            })?;
            let at = at.replace_nanosecond(0).unwrap_or(at);
            let c = Consent {
                id: format!("C{:06}", st.next_consent),
                sp_id: sp_id.to_owned(),
                holder: holder.to_owned(),
                sign_serial: h.sign_serial,
                created_at: at,
                expires_at: add_years(at, 10),
                withdrawn_at: None,
            };
            st.next_consent += 1;
            st.consents.insert(c.id.clone(), c.clone());
            Ok((c, Vec::new()))
        })
    }

    /// Withdraws a consent; withdrawing twice is a conflict.
    pub fn withdraw_consent(&self, id: &str, at: OffsetDateTime) -> Result<Consent> {
        self.mutate(|st| {
            let c = st.consents.get_mut(id).ok_or_else(|| SimError::NotFound {
                what: "consent",
                id: id.into(),
            })?;
            if c.withdrawn_at.is_some() {
                return Err(SimError::Conflict {
                    what: "consent already withdrawn",
                    detail: id.into(),
                });
            }
            c.withdrawn_at = Some(at.replace_nanosecond(0).unwrap_or(at));
            Ok((c.clone(), Vec::new()))
        })
    }
}
