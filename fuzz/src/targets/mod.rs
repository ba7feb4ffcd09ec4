//! The fuzz targets, by name. Each takes the input as [`arbitrary::Unstructured`] and panics
//! when its property does not hold.

pub mod call;
pub mod parse;
pub mod registry;

use crate::driver::Target;

/// Every target and its name on the command line.
pub const ALL: [(&str, Target); 3] = [
    ("parse", parse::run),
    ("registry", registry::run),
    ("call", call::run),
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    ALL.iter()
        .find(|(known, _)| *known == name)
        .map(|(_, target)| *target)
}
