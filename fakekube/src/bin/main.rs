//! `trellis-fakekube`: runs the fake API server until interrupted, for trying trellis
//! commands by hand without a cluster:
//!
//! ```text
//! trellis-fakekube --kubeconfig /tmp/fake.kubeconfig [--conformance-results DIR]
//! ```

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut kubeconfig = PathBuf::from("fakekube.kubeconfig");
    let mut opts = trellis_fakekube::Options::default();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--kubeconfig", Some(v)) => kubeconfig = v.into(),
            ("--conformance-results", Some(v)) => opts.conformance_results = Some(v.into()),
            ("--version", Some(v)) => opts.version = v,
            _ => {
                eprintln!("usage: trellis-fakekube [--kubeconfig PATH] [--conformance-results DIR] [--version vX.Y.Z]");
                std::process::exit(2);
            }
        }
    }
    let cluster = match trellis_fakekube::FakeCluster::start(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = cluster.write_kubeconfig(&kubeconfig, "fakekube") {
        eprintln!("error: {}: {e}", kubeconfig.display());
        std::process::exit(1);
    }
    eprintln!(
        "serving {} (kubeconfig {}); Ctrl-C stops",
        cluster.url(),
        kubeconfig.display()
    );
    loop {
        std::thread::park();
    }
}
