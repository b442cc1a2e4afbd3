//! `tls_config` against a TLS gateway with a private CA made by `openssl`, as a corporate
//! TLS-inspecting gateway would present: refused without `ca_file` (the message names the host
//! and says the chain failed), refused for the wrong name (the message says the name failed),
//! accepted with `ca_file` and `server_name`, and a client certificate where the gateway
//! requires one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use consumption_exporter::simulator::kit::{
    vendor as find_vendor, Scale, SimulatedTenant, TenantSpec,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::helpers::{program, test_today, TestExporter};

/// The name the gateway's certificate is issued for (no DNS entry: tests reach it by IP).
pub const GATEWAY_NAME: &str = "gateway.internal";

/// A private CA and what it issued: a server certificate for [`GATEWAY_NAME`] and a client
/// certificate, as PEM files.
pub struct PrivatePki {
    pub dir: tempfile::TempDir,
}

impl PrivatePki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let output = Command::new(program(&["openssl"], "openssl"))
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=Test Gateway CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        for (name, subject, usage) in [
            (
                "server",
                GATEWAY_NAME,
                format!("subjectAltName=DNS:{GATEWAY_NAME}\nextendedKeyUsage=serverAuth\n"),
            ),
            (
                "client",
                "consumption-exporter",
                "extendedKeyUsage=clientAuth\n".to_string(),
            ),
        ] {
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            std::fs::write(
                dir.path().join(&ext),
                format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{usage}"),
            )
            .unwrap();
            openssl(
                &[
                    &["req", "-new"],
                    &ec[..],
                    &[
                        "-keyout",
                        &key,
                        "-out",
                        &csr,
                        "-subj",
                        &format!("/CN={subject}"),
                    ],
                ]
                .concat(),
            );
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ]);
        }
        PrivatePki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A TLS gateway on loopback in front of `tenant`: it terminates TLS with the private CA's
/// server certificate (and, if asked, requires a client certificate the CA issued) and passes
/// the bytes on. Returns the gateway's `https://127.0.0.1:port`.
pub async fn tls_gateway(
    pki: &PrivatePki,
    tenant: &SimulatedTenant,
    client_certificate: bool,
) -> String {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.path("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_certificate {
        true => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        false => builder.with_no_client_auth(),
    };
    let acceptor = TlsAcceptor::from(Arc::new(builder.with_single_cert(chain, key).unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("https://{}", listener.local_addr().unwrap());
    let upstream = tenant.url().trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                if let Ok(mut server) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    gateway
}

pub async fn small_tenant(type_name: &str) -> SimulatedTenant {
    let vendor = find_vendor(type_name).unwrap();
    let spec = TenantSpec {
        seed: 9,
        today: test_today(),
        scale: Scale::Small,
    };
    vendor.start(spec).await.unwrap()
}

/// The tenant's source entry with every URL of it (API and token) on the gateway.
pub fn entry_behind(tenant: &SimulatedTenant, name: &str, gateway: &str, extra: &str) -> String {
    format!(
        "{}{extra}",
        tenant.entry(name).replace(&tenant.url(), gateway)
    )
}

fn tls_config(pki: &PrivatePki, keys: &[&str]) -> String {
    let mut text = "    tls_config:\n".to_string();
    for key in keys {
        let line = match *key {
            "ca_file" => format!("ca_file: {}", pki.path("ca.pem").display()),
            "server_name" => format!("server_name: {GATEWAY_NAME}"),
            "client" => format!(
                "cert_file: {}\n      key_file: {}",
                pki.path("client.pem").display(),
                pki.path("client.key").display()
            ),
            other => other.to_string(),
        };
        text.push_str(&format!("      {line}\n"));
    }
    text
}

async fn poll_error(entry: String) -> Option<String> {
    let exporter = TestExporter::start(&format!("sources:\n{entry}")).await;
    match exporter.poll(0).await {
        true => None,
        false => Some(exporter.last_error(0)),
    }
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn a_private_ca_is_trusted_only_through_ca_file_and_the_name_through_server_name() {
    let pki = PrivatePki::new();
    let tenant = small_tenant("dynatrace").await;
    let gateway = tls_gateway(&pki, &tenant, false).await;
    let host = gateway
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap()
        .to_string();

    let untrusted = poll_error(entry_behind(&tenant, "untrusted", &gateway, ""))
        .await
        .expect("the system store does not trust a private CA");
    assert!(
        untrusted.contains(&format!("TLS to {host}"))
            && untrusted.contains("chain")
            && untrusted.contains("tls_config.ca_file"),
        "{untrusted}"
    );

    let wrong_name = entry_behind(
        &tenant,
        "wrong-name",
        &gateway,
        &tls_config(&pki, &["ca_file"]),
    );
    let wrong_name = poll_error(wrong_name)
        .await
        .expect("the certificate is for another name");
    assert!(
        wrong_name.contains(&format!("not issued for the name {host}"))
            && wrong_name.contains("tls_config.server_name"),
        "{wrong_name}"
    );

    let trusted = entry_behind(
        &tenant,
        "trusted",
        &gateway,
        &tls_config(&pki, &["ca_file", "server_name"]),
    );
    assert_eq!(poll_error(trusted).await, None);

    let insecure = entry_behind(
        &tenant,
        "insecure",
        &gateway,
        &tls_config(&pki, &["insecure_skip_verify: true"]),
    );
    assert_eq!(
        poll_error(insecure).await,
        None,
        "insecure_skip_verify accepts any certificate"
    );

    let tls13 = entry_behind(
        &tenant,
        "tls13",
        &gateway,
        &tls_config(&pki, &["ca_file", "server_name", "min_version: TLS13"]),
    );
    assert_eq!(poll_error(tls13).await, None, "the gateway speaks TLS 1.3");
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[tokio::test]
async fn a_gateway_that_requires_a_client_certificate_gets_the_one_cert_file_and_key_file_name() {
    let pki = PrivatePki::new();
    let tenant = small_tenant("qlik").await;
    let gateway = tls_gateway(&pki, &tenant, true).await;

    let without = entry_behind(
        &tenant,
        "without",
        &gateway,
        &tls_config(&pki, &["ca_file", "server_name"]),
    );
    let refused = poll_error(without)
        .await
        .expect("the gateway requires a client certificate");
    assert!(refused.contains("cert_file"), "{refused}");

    let with = entry_behind(
        &tenant,
        "with",
        &gateway,
        &tls_config(&pki, &["ca_file", "server_name", "client"]),
    );
    assert_eq!(poll_error(with).await, None);
    assert!(
        !tenant.requests().is_empty(),
        "the source's requests reached the tenant through the gateway"
    );
}

fn config_errors_at(dir: &Path, yaml: &str) -> String {
    let path = dir.join("exporter.yml");
    std::fs::write(&path, yaml).unwrap();
    match consumption_exporter::config::load(&path) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(errors) => errors.to_string(),
    }
}

#[ignore = "needs openssl: ./scripts/test.sh installs and runs it"]
#[test]
fn tls_keys_the_library_cannot_honour_or_files_it_cannot_use_are_refused_at_their_line() {
    let pki = PrivatePki::new();
    std::fs::write(pki.path("not-a-cert.pem"), "hello\n").unwrap();
    let source = "sources:\n  - name: q\n    type: qlik\n    base_url: https://tenant.eu.qlikcloud.com\n    authorization: {credentials: k}\n    tls_config:\n";
    let cases = [
        (
            "      min_version: TLS10\n",
            "7:7",
            "speaks TLS 1.2 and 1.3 only",
        ),
        (
            "      ca_file: not-a-cert.pem\n",
            "7:7",
            "holds no PEM certificate",
        ),
        ("      ca_file: missing.pem\n", "7:7", "cannot read"),
        ("      cert_file: client.pem\n", "7:7", "add key_file"),
        (
            "      cert_file: client.pem\n      key_file: ca.pem\n",
            "8:7",
            "holds no PEM private key",
        ),
        (
            "      cert_file: client.pem\n      key_file: server.key\n",
            "6:5",
            "do not go together",
        ),
        (
            "      server_name: \"not a name\"\n",
            "7:7",
            "is not a DNS name",
        ),
        (
            "      ca: x\n      ca_file: ca.pem\n",
            "8:7",
            "either `ca` or `ca_file`",
        ),
        ("      verify: false\n", "7:7", "unknown field `verify`"),
    ];
    for (keys, at, message) in cases {
        let errors = config_errors_at(pki.dir.path(), &format!("{source}{keys}"));
        assert!(
            errors.contains(message) && errors.contains(at),
            "{keys}: {errors}"
        );
    }
}
