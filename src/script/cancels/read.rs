//! Reading a run back from the audit log.
