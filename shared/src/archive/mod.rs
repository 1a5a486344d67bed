//! The suite's backup format, shared by `kubectl sealos backup` and `kubectl sealos cert backup`.
//!
//! One `.tar.gz` (optionally age-encrypted as a whole: `.tar.gz.age`), one JSON file per object at
//! `resources/<resource>[.<group>]/namespaces/<ns>/<name>.json` or `.../cluster/<name>.json`, each
//! cleaned so that it applies to a new cluster, and `index.json` last: cluster version and server,
//! tool version and git revision, time, counts per kind and the SHA-256 of every entry. Beside the
//! archive, `<name>.index.json` (the index object) marks the backup complete; it is written last,
//! after its optional SSH signature `<name>.index.json.sig` (see `signing`).

pub mod catalog;
pub mod clean;
pub mod create;
pub mod crypt;
pub mod index;
pub mod location;
pub mod path;
pub mod reader;
pub mod reads;
pub mod resolve;
pub mod signing;
pub mod writer;

pub use catalog::{Part, Source};
pub use create::{Created, Plan, Target, create};
pub use index::{Index, IndexHead, Summary};
pub use path::EntryPath;
pub use reader::{Verification, verify};
