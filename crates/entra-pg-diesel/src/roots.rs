//! The root CA bundle libpq verifies the server against: the operating system's
//! bundle, plus the roots the connector was given (in a combined file, since
//! libpq's `sslrootcert` names one file).

use std::{io::Write as _, path::Path, sync::Arc};

use entra_pg_core::{
    Error as CoreError,
    connector::{Roots, system_root_bundle},
};
use tempfile::NamedTempFile;

/// The root bundle of a connector: a file libpq reads, kept alive as long as the
/// connector when it is a combined one.
#[derive(Clone, Debug)]
pub(crate) struct Bundle {
    path: String,
    _combined: Option<Arc<NamedTempFile>>,
}

impl Bundle {
    /// The operating system's bundle, plus `extra` roots and `from_settings` (a
    /// PEM file the settings' `sslrootcert` named; `system` means none).
    pub(crate) fn new(extra: &Roots, from_settings: Option<&str>) -> Result<Self, CoreError> {
        let system = system_root_bundle()?;
        let mut added = extra.pem().to_vec();
        if let Some(path) = from_settings.filter(|path| *path != "system") {
            let pem = std::fs::read(path).map_err(|err| CoreError::InvalidConfig {
                reason: format!(
                    "cannot read the root CA file {path} named by sslrootcert in the settings \
                     ({err}); give the path of a PEM file holding the server's root CA"
                ),
            })?;
            added.extend_from_slice(&pem);
            added.push(b'\n');
        }
        if added.is_empty() {
            return Ok(Self {
                path: path_str(&system)?,
                _combined: None,
            });
        }
        let combined = (|| {
            let mut file = tempfile::Builder::new()
                .prefix("entra-pg-roots-")
                .suffix(".pem")
                .tempfile()?;
            file.write_all(&std::fs::read(&system)?)?;
            file.write_all(b"\n")?;
            file.write_all(&added)?;
            file.flush()?;
            Ok::<_, std::io::Error>(file)
        })()
        .map_err(|err| CoreError::InvalidConfig {
            reason: format!("cannot write the combined root CA bundle for libpq ({err})"),
        })?;
        Ok(Self {
            path: path_str(combined.path())?,
            _combined: Some(Arc::new(combined)),
        })
    }

    /// The file to give libpq as `sslrootcert`.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

fn path_str(path: &Path) -> Result<String, CoreError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CoreError::InvalidConfig {
            reason: format!(
                "the root CA path {} is not UTF-8, which libpq settings cannot carry",
                path.display()
            ),
        })
}
