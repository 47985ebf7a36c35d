//! API keys issued and revoked while the exchange runs (L1 endpoints).

use super::{Account, AccountNo, Exchange, StateError};
use crate::clob::Credentials;

/// API keys issued and revoked while the exchange runs (L1 endpoints).
impl Exchange {
    /// Adds an account for a newly issued API key; it can sign L2 requests at once.
    pub fn add_account(&mut self, credentials: Credentials) -> Result<AccountNo, StateError> {
        let account = Account::new(credentials)?;
        if self
            .account_by_key
            .contains_key(&account.credentials.api_key)
        {
            return Err(StateError::DuplicateAccount {
                api_key: account.credentials.api_key,
            });
        }
        let no = self.accounts.len();
        self.account_by_key
            .insert(account.credentials.api_key.clone(), no);
        self.accounts.push(account);
        Ok(no)
    }

    /// Revokes an API key: it no longer authenticates, and its dead-man's switch is disarmed.
    /// The account's orders and trades stay (they keep their owner).
    pub fn revoke_key(&mut self, api_key: &str) -> Option<AccountNo> {
        let no = self.account_by_key.remove(api_key)?;
        self.accounts[no].heartbeat = None;
        Some(no)
    }

    /// The API keys that still authenticate for an address (any letter case), oldest first.
    pub fn keys_of_address(&self, address: &str) -> Vec<String> {
        let mut keys: Vec<(AccountNo, &String)> = self
            .account_by_key
            .iter()
            .filter(|(_, no)| {
                self.accounts[**no]
                    .credentials
                    .address
                    .eq_ignore_ascii_case(address)
            })
            .map(|(key, no)| (*no, key))
            .collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, key)| key.clone()).collect()
    }
}
