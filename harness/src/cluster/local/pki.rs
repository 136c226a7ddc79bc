//! The local cluster's own PKI, made fresh for every cluster with rcgen (ECDSA P-256):
//! a CA (also kube-controller-manager's signer for CSRs), one serving certificate for
//! the API servers and kwok's kubelet endpoint, an admin client certificate in
//! `system:masters`, and the service-account signing key. Nothing here outlives the
//! cluster's state directory, and no key is ever written to a build's artifacts.

use super::LocalError;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The files the components are started with.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub sa_key: PathBuf,
    pub sa_pub: PathBuf,
}

fn pki_error(what: &str) -> impl Fn(rcgen::Error) -> LocalError + '_ {
    move |e| LocalError::Pki {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

/// Writes a file readable by its owner only: these are keys and credentials.
pub fn write_private(path: &Path, text: &str) -> Result<(), LocalError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| LocalError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn leaf(cn: &str, org: Option<&str>, sans: Vec<SanType>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    if let Some(o) = org {
        p.distinguished_name.push(DnType::OrganizationName, o);
    }
    p.subject_alt_names = sans;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p
}

/// Makes the PKI in `dir`. `server_ips` are the addresses clients dial (each API
/// server, kwok's kubelet endpoint, the `kubernetes` Service IP).
pub fn create(dir: &Path, server_ips: &[IpAddr]) -> Result<Pki, LocalError> {
    std::fs::create_dir_all(dir).map_err(|source| LocalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let ca_key = KeyPair::generate().map_err(pki_error("the CA key"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "trellis-local-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(pki_error("the CA"))?;
    let issuer = Issuer::from_params(&ca, &ca_key);

    let mut sans: Vec<SanType> = server_ips
        .iter()
        .map(|ip| SanType::IpAddress(*ip))
        .collect();
    sans.push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
    for dns in [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        sans.push(SanType::DnsName(
            dns.try_into().map_err(pki_error("a DNS name"))?,
        ));
    }
    let mut serving = leaf("kube-apiserver", None, sans);
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_key = KeyPair::generate().map_err(pki_error("the serving key"))?;
    let serving_cert = serving
        .signed_by(&serving_key, &issuer)
        .map_err(pki_error("the serving certificate"))?;

    let mut admin = leaf("trellis-admin", Some("system:masters"), Vec::new());
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate().map_err(pki_error("the admin key"))?;
    let admin_cert = admin
        .signed_by(&admin_key, &issuer)
        .map_err(pki_error("the admin certificate"))?;

    let sa_key = KeyPair::generate().map_err(pki_error("the service-account key"))?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        serving_cert: dir.join("serving.crt"),
        serving_key: dir.join("serving.key"),
        admin_cert: dir.join("admin.crt"),
        admin_key: dir.join("admin.key"),
        sa_key: dir.join("sa.key"),
        sa_pub: dir.join("sa.pub"),
    };
    for (path, text) in [
        (&pki.ca_cert, ca_cert.pem()),
        (&pki.ca_key, ca_key.serialize_pem()),
        (&pki.serving_cert, serving_cert.pem()),
        (&pki.serving_key, serving_key.serialize_pem()),
        (&pki.admin_cert, admin_cert.pem()),
        (&pki.admin_key, admin_key.serialize_pem()),
        (&pki.sa_key, sa_key.serialize_pem()),
        (&pki.sa_pub, sa_key.public_key_pem()),
    ] {
        write_private(path, &text)?;
    }
    Ok(pki)
}

/// An admin kubeconfig with the certificates inline, so it stands alone.
pub fn admin_kubeconfig(pki: &Pki, server: &str, cluster: &str) -> Result<String, LocalError> {
    use base64::Engine;
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|source| LocalError::Io {
            path: p.clone(),
            source,
        })
    };
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: trellis-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: trellis-admin
current-context: {cluster}
",
        ca = b64(read(&pki.ca_cert)?),
        cert = b64(read(&pki.admin_cert)?),
        key = b64(read(&pki.admin_key)?),
    ))
}
