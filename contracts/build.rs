//! Compiles `contracts/src` and the test harnesses of `contracts/harness` with foundry-compilers
//! and generates the Rust side of every contract.
//!
//! `foundry.toml` at the workspace root is the single source of truth for the Solidity build:
//! `npx forge build` reads it, and this script parses the same keys instead of repeating them.
//! Unknown build keys are rejected, so a setting forge would honour can never be silently ignored
//! here. forge's own `[fmt]` and `[lint]` sections configure `forge fmt` / `forge lint`, not the
//! build, and are skipped.
//!
//! Outputs, all under `OUT_DIR`:
//! - `artifacts/`, `solidity-files-cache.json`: foundry-compilers' own output and cache, so an
//!   unchanged source tree does not call solc again;
//! - `abi/<Name>.json`: `{abi, bytecode, deployedBytecode}` per contract of `contracts/src` and
//!   `contracts/harness`, the shape `alloy::sol!` reads;
//! - `contracts.rs`: the artifact table and one `sol!` binding module per contract. A JSON ABI
//!   carries enums as bare `uint8`s, so each module also gets a `sol!` enum (with its variants,
//!   read from solc's AST) for every enum its contract declares, e.g.
//!   `i_deliberation_market::JobStatus`. Only
//!   `contracts/src` is production: harness contracts (foundry.toml's `test` directory) are left
//!   out of `ARTIFACTS` and their bindings exist only with the `testkit` feature.
//!
//! A contract that does not compile fails `cargo build` with solc's own diagnostics.
#![allow(
    clippy::disallowed_macros,
    reason = "cargo reads a build script's instructions from its stdout"
)]

use std::{
    collections::BTreeMap,
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
    str::FromStr,
};

use foundry_compilers::{
    ConfigurableArtifacts, ProjectBuilder, ProjectPathsConfig,
    artifacts::{EvmVersion, Optimizer, Remapping, Settings},
    solc::{Solc, SolcCompiler, SolcLanguage, SolcSettings},
};
use serde::{Deserialize, de::IgnoredAny};

/// The `foundry.toml` document; only `[profile.default]` is used.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FoundryToml {
    profile: Profiles,
    /// `forge fmt` settings: formatting only, nothing the build reads.
    #[serde(default, rename = "fmt")]
    _fmt: Option<IgnoredAny>,
    /// `forge lint` settings: linting only, nothing the build reads.
    #[serde(default, rename = "lint")]
    _lint: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profiles {
    default: Profile,
}

/// The keys of `[profile.default]` this build understands (forge's names and meanings).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    src: PathBuf,
    test: PathBuf,
    script: PathBuf,
    // forge's own output locations; the Rust build writes to OUT_DIR instead.
    #[allow(dead_code)]
    out: PathBuf,
    #[allow(dead_code)]
    cache_path: PathBuf,
    libs: Vec<PathBuf>,
    remappings: Vec<String>,
    solc: PathBuf,
    offline: bool,
    optimizer: bool,
    optimizer_runs: usize,
    via_ir: bool,
    evm_version: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let root =
        manifest_dir.parent().ok_or("contracts crate has no parent directory")?.to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let foundry_toml = root.join("foundry.toml");

    let text = fs::read_to_string(&foundry_toml)
        .map_err(|e| format!("cannot read {}: {e}", foundry_toml.display()))?;
    let profile = toml::from_str::<FoundryToml>(&text)
        .map_err(|e| {
            format!(
                "{} is not understood by contracts/build.rs: {e}\n\
                 (if forge gained a setting, teach build.rs the same key)",
                foundry_toml.display()
            )
        })?
        .profile
        .default;
    if !profile.offline {
        return Err(format!(
            "{}: `offline = true` is required (no solc downloads)",
            foundry_toml.display()
        ));
    }

    let sources_dir = root.join(&profile.src);
    let harness_dir = root.join(&profile.test);
    println!("cargo:rerun-if-changed={}", foundry_toml.display());
    println!("cargo:rerun-if-changed={}", sources_dir.display());
    println!("cargo:rerun-if-changed={}", harness_dir.display());
    println!("cargo:rerun-if-changed={}", root.join(&profile.solc).display());
    println!("cargo:rerun-if-changed={}", root.join("package-lock.json").display());

    let remappings = profile
        .remappings
        .iter()
        .map(|r| {
            Remapping::from_str(r).map_err(|e| format!("bad remapping `{r}` in foundry.toml: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let paths = ProjectPathsConfig::builder()
        .root(&root)
        .sources(&sources_dir)
        .tests(&harness_dir)
        .scripts(root.join(&profile.script))
        .libs(profile.libs.iter().map(|l| root.join(l)))
        .remappings(remappings)
        .artifacts(out_dir.join("artifacts"))
        .build_infos(out_dir.join("build-info"))
        .cache(out_dir.join("solidity-files-cache.json"))
        .build::<SolcLanguage>()
        .map_err(|e| format!("invalid project paths: {e}"))?;

    let evm_version = EvmVersion::from_str(&profile.evm_version)
        .map_err(|e| format!("bad evm_version in foundry.toml: {e}"))?;
    let settings = Settings {
        optimizer: Optimizer {
            enabled: Some(profile.optimizer),
            runs: Some(profile.optimizer_runs),
            details: None,
        },
        evm_version: Some(evm_version),
        via_ir: Some(profile.via_ir),
        ..Default::default()
    };

    let solc_path = root.join(&profile.solc);
    let solc = Solc::new(&solc_path).map_err(|e| {
        format!("cannot run the solc shim {}: {e} (run `npm ci` first)", solc_path.display())
    })?;
    let project = ProjectBuilder::<SolcCompiler, ConfigurableArtifacts>::new(Default::default())
        .paths(paths)
        .settings(SolcSettings { settings, cli_settings: Default::default() })
        .offline()
        .single_solc_jobs()
        .build(SolcCompiler::Specific(solc))
        .map_err(|e| format!("cannot set up the Solidity project: {e}"))?;

    // Only sources the project owns matter for the sources list; the rest are compiled as
    // dependencies. Listing contracts only from `contracts/src` (production) and the harness
    // directory (tests) keeps OpenZeppelin's out of the API.
    let output = project.compile().map_err(|e| format!("solc failed: {e}"))?;
    if output.has_compiler_errors() {
        return Err(format!("Solidity compilation failed:\n{output}"));
    }

    let abi_dir = out_dir.join("abi");
    fs::create_dir_all(&abi_dir)
        .map_err(|e| format!("cannot create {}: {e}", abi_dir.display()))?;
    let mut contracts = BTreeMap::new();
    for (id, artifact) in output.artifact_ids() {
        let source =
            if id.source.is_absolute() { id.source.clone() } else { root.join(&id.source) };
        let harness = if source.starts_with(&sources_dir) {
            false
        } else if source.starts_with(&harness_dir) {
            true
        } else {
            continue;
        };
        let json = serde_json::to_value(artifact).map_err(|e| e.to_string())?;
        let mut contract = ContractFiles::from_artifact(&json, harness);
        if let Some(ast) = json.get("ast") {
            collect_enums(ast, &format!("{}.", id.name), &mut contract.enums);
        }
        let relative = source.strip_prefix(&root).unwrap_or(&source).display().to_string();
        if let Some((previous, _)) = contracts.insert(id.name.clone(), (relative.clone(), contract))
        {
            return Err(format!(
                "two contracts are named `{}` ({previous} and {relative}); names must be unique",
                id.name
            ));
        }
    }

    let mut generated = String::from(
        "// @generated by contracts/build.rs from contracts/src and contracts/harness; do not edit.\n\n",
    );
    let mut table = String::new();
    for (name, (source, contract)) in &contracts {
        let file = abi_dir.join(format!("{name}.json"));
        let body = serde_json::json!({
            "abi": contract.abi,
            "bytecode": contract.bytecode,
            "deployedBytecode": contract.deployed_bytecode,
        });
        write_if_changed(&file, &serde_json::to_string(&body).map_err(|e| e.to_string())?)?;
        let module = snake_case(name);
        let gate = if contract.harness { "#[cfg(feature = \"testkit\")]\n" } else { "" };
        let enums: String = contract
            .enums
            .iter()
            .map(|(enum_name, variants)| {
                format!(
                    "    alloy::sol! {{\n        \
                         #[derive(Debug, PartialEq, Eq, Hash)]\n        \
                         enum {enum_name} {{ {} }}\n    \
                     }}\n",
                    variants.join(", ")
                )
            })
            .collect();
        let _ = writeln!(
            generated,
            "#[doc = \"Alloy bindings for `{name}` ({source}).\"]\n\
             {gate}pub mod {module} {{\n    \
                 #![allow(missing_docs, clippy::all)]\n    \
                 alloy::sol!(\n        \
                     #[allow(missing_docs, clippy::all)]\n        \
                     #[sol(rpc, all_derives)]\n        \
                     {name},\n        \
                     {file:?}\n    \
                 );\n\
             {enums}}}\n"
        );
        if contract.harness {
            continue;
        }
        let _ = writeln!(
            table,
            "    crate::Artifact {{ name: {name:?}, source: {source:?}, json: include_str!({file:?}) }},"
        );
    }
    let _ = write!(
        generated,
        "/// Every contract compiled from `contracts/src`, sorted by name.\n\
         pub static ARTIFACTS: &[crate::Artifact] = &[\n{table}];\n"
    );
    write_if_changed(&out_dir.join("contracts.rs"), &generated)?;
    Ok(())
}

/// The parts of a compiled contract the crate exposes.
struct ContractFiles {
    abi: serde_json::Value,
    bytecode: String,
    deployed_bytecode: String,
    /// A test harness (foundry.toml's `test` directory): bindings only under `testkit`, never
    /// in `ARTIFACTS`.
    harness: bool,
    /// The enums the contract declares: name and variants, in declaration order.
    enums: BTreeMap<String, Vec<String>>,
}

/// Collects the `EnumDefinition`s of solc's AST whose canonical name starts with `prefix`
/// (`<Contract>.`): the enums that contract declares.
fn collect_enums(node: &serde_json::Value, prefix: &str, out: &mut BTreeMap<String, Vec<String>>) {
    match node {
        serde_json::Value::Object(map) => {
            if map.get("nodeType").and_then(|t| t.as_str()) == Some("EnumDefinition")
                && let Some(name) = map
                    .get("canonicalName")
                    .and_then(|n| n.as_str())
                    .and_then(|n| n.strip_prefix(prefix))
            {
                let variants = map
                    .get("members")
                    .and_then(|m| m.as_array())
                    .map(|members| {
                        members
                            .iter()
                            .filter_map(|m| m.get("name").and_then(|n| n.as_str()))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(name.to_string(), variants);
            }
            map.values().for_each(|v| collect_enums(v, prefix, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_enums(v, prefix, out)),
        _ => {}
    }
}

impl ContractFiles {
    fn from_artifact(json: &serde_json::Value, harness: bool) -> Self {
        let hex = |key: &str| {
            json.get(key)
                .and_then(|b| b.get("object"))
                .and_then(|o| o.as_str())
                .map(|s| if s.starts_with("0x") { s.to_string() } else { format!("0x{s}") })
                .unwrap_or_else(|| "0x".to_string())
        };
        Self {
            abi: json.get("abi").cloned().unwrap_or_else(|| serde_json::json!([])),
            bytecode: hex("bytecode"),
            deployed_bytecode: hex("deployedBytecode"),
            harness,
            enums: BTreeMap::new(),
        }
    }
}

/// Writes `contents` unless the file already holds them, so unchanged outputs keep their mtime.
fn write_if_changed(path: &Path, contents: &str) -> Result<(), String> {
    if fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `RankToken` → `rank_token`, `QVHarness` → `qv_harness`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
