//! diag lists through `sealos_shared::list`; `all` is its name where the connectivity walk uses it.

pub use sealos_shared::list::in_scope as all;
