//! `overlapped watch`: network, resolver and provider changes as they
//! happen, driven by overlapped change requests (`WSAIoctl`
//! `SIO_ADDRESS_LIST_CHANGE` / `SIO_ROUTING_INTERFACE_CHANGE`,
//! `WSANSPIoctl(SIO_NSP_NOTIFY_CHANGE)`, `WSAProviderConfigChange`) whose
//! completion routines run in one alertable loop (`SleepEx(INFINITE, TRUE)`).
//!
//! Each routine queues what fired; the loop posts that request again, then
//! prints one line (text, or one JSON object with `--json`) with the state
//! as it is now. In that order nothing is missed: a change after the new
//! request is posted completes it, one before is in the state printed. The
//! first line says what is watched, once every request is posted.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use overlapped::{
    sleep_ex, Completion, Ioctl, IoctlOutput, LookupService, ProviderChange, Socket, WsaError,
    PROVIDER_FILES, RESOLVER_FILES,
};
use serde_json::json;

use crate::cli::int_in;

/// Options of `overlapped watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// What to watch, comma-separated: addresses, routes, resolver, providers.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "addresses,routes,resolver,providers"
    )]
    what: Vec<What>,
    /// Exit after this many notifications; without it, watch until killed (from 1 to 1000000).
    #[arg(long, value_parser = int_in(1u64, 1_000_000))]
    count: Option<u64>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// The host name whose resolution is shown on resolver changes.
    #[arg(long, default_value = "localhost", value_parser = host_name)]
    host: String,
    /// A destination ADDR:PORT (e.g. 192.0.2.1:0) whose route is shown on route changes (any route change is reported); needs routes in --what.
    #[arg(long, value_name = "ADDR:PORT")]
    route_to: Option<SocketAddr>,
    /// Resolver files to watch, comma-separated; each one's directory must exist [default: /etc/resolv.conf,/etc/hosts,/etc/nsswitch.conf,/etc/gai.conf].
    #[arg(long, value_delimiter = ',')]
    resolver_files: Vec<PathBuf>,
    /// Provider files to watch, comma-separated; each one's directory must exist [default: /etc/protocols,/etc/services,/etc/nsswitch.conf].
    #[arg(long, value_delimiter = ',')]
    provider_files: Vec<PathBuf>,
}

/// A kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum What {
    Addresses,
    Routes,
    Resolver,
    Providers,
}

/// One change request, identified for re-posting.
#[derive(Clone, Copy, Debug)]
enum Request {
    Addresses(usize),
    Routes(usize),
    Resolver,
    Providers,
}

type Fired = Rc<RefCell<VecDeque<(Request, WsaError)>>>;

struct Watch {
    args: WatchArgs,
    /// One UDP socket per family (IPv4, IPv6 where the machine has it).
    sockets: Vec<Socket>,
    lookup: Option<LookupService>,
    providers: Option<ProviderChange>,
    fired: Fired,
}

/// A host name to resolve: not empty, no NUL.
fn host_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains('\0') {
        return Err("must be a host name (not empty)".to_string());
    }
    Ok(s.to_string())
}

/// Combinations clap cannot see: duplicates in --what, --route-to without
/// routes, files whose directory is missing (only for kinds watched).
fn check(args: &WatchArgs) {
    use crate::cli::usage_error;
    for (i, w) in args.what.iter().enumerate() {
        if args.what[..i].contains(w) {
            usage_error(&format!(
                "--what names {} twice",
                format!("{w:?}").to_lowercase()
            ));
        }
    }
    if args.route_to.is_some() && !args.what.contains(&What::Routes) {
        usage_error("--route-to applies only when --what includes routes");
    }
    for (opt, kind, files) in [
        ("--resolver-files", What::Resolver, &args.resolver_files),
        ("--provider-files", What::Providers, &args.provider_files),
    ] {
        if !files.is_empty() && !args.what.contains(&kind) {
            usage_error(&format!(
                "{opt} applies only when --what includes {}",
                format!("{kind:?}").to_lowercase()
            ));
        }
        for f in files {
            let dir = match f.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if f.file_name().is_none() || !dir.is_dir() {
                usage_error(&format!(
                    "{opt}: cannot watch {}: directory {} does not exist",
                    f.display(),
                    dir.display()
                ));
            }
        }
    }
}

pub fn run(args: WatchArgs) -> std::io::Result<()> {
    check(&args);
    if crate::cli::only_checking() {
        return Ok(());
    }
    let mut watch = Watch::new(args).map_err(std::io::Error::other)?;
    watch.run().map_err(std::io::Error::other)
}

fn family(s: &Socket) -> &'static str {
    match s.local_addr() {
        Ok(a) if a.is_ipv6() => "ipv6",
        _ => "ipv4",
    }
}

impl Watch {
    fn new(args: WatchArgs) -> Result<Watch, WsaError> {
        let mut sockets = vec![Socket::udp_for(&"0.0.0.0:0".parse().unwrap())?];
        if let Ok(v6) = Socket::udp_for(&"[::]:0".parse().unwrap()) {
            sockets.push(v6);
        }
        let resolver: Vec<PathBuf> = if args.resolver_files.is_empty() {
            RESOLVER_FILES.iter().map(PathBuf::from).collect()
        } else {
            args.resolver_files.clone()
        };
        let provider: Vec<PathBuf> = if args.provider_files.is_empty() {
            PROVIDER_FILES.iter().map(PathBuf::from).collect()
        } else {
            args.provider_files.clone()
        };
        let lookup = if args.what.contains(&What::Resolver) {
            Some(LookupService::begin_watching(&args.host, &resolver)?)
        } else {
            None
        };
        let providers = if args.what.contains(&What::Providers) {
            Some(ProviderChange::watching(&provider)?)
        } else {
            None
        };
        Ok(Watch {
            args,
            sockets,
            lookup,
            providers,
            fired: Rc::default(),
        })
    }

    fn routine(&self, request: Request) -> impl FnOnce(Completion) + 'static {
        let fired = self.fired.clone();
        move |c: Completion| fired.borrow_mut().push_back((request, c.error))
    }

    fn post(&self, request: Request) -> Result<(), WsaError> {
        let mut n = 0;
        let r = match request {
            Request::Addresses(i) => self.sockets[i]
                .ioctl_with(&Ioctl::AddressListChange, 0, &mut n, self.routine(request))
                .map(|_| ()),
            Request::Routes(i) => {
                let any: SocketAddr = if i == 0 { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
                self.sockets[i]
                    .ioctl_with(
                        &Ioctl::RoutingInterfaceChange(any),
                        0,
                        &mut n,
                        self.routine(request),
                    )
                    .map(|_| ())
            }
            Request::Resolver => self
                .lookup
                .as_ref()
                .expect("resolver watched")
                .notify_change_with(self.routine(request)),
            Request::Providers => self
                .providers
                .as_ref()
                .expect("providers watched")
                .wait_change_with(self.routine(request)),
        };
        match r {
            Ok(()) | Err(WsaError::WSA_IO_PENDING) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        for what in &self.args.what {
            match what {
                What::Addresses => out.extend((0..self.sockets.len()).map(Request::Addresses)),
                What::Routes => out.extend((0..self.sockets.len()).map(Request::Routes)),
                What::Resolver => out.push(Request::Resolver),
                What::Providers => out.push(Request::Providers),
            }
        }
        out
    }

    fn run(&mut self) -> Result<(), WsaError> {
        for request in self.requests() {
            self.post(request)?;
        }
        let names: Vec<&str> = self
            .args
            .what
            .iter()
            .map(|w| match w {
                What::Addresses => "addresses",
                What::Routes => "routes",
                What::Resolver => "resolver",
                What::Providers => "providers",
            })
            .collect();
        let backend = crate::backend_line();
        if self.args.json {
            let backend = backend.strip_prefix("backend: ").unwrap_or(&backend);
            emit(&json!({ "watching": names, "backend": backend }).to_string());
        } else {
            // One line: what follows it are the notifications.
            emit(&format!("watching {}; {backend}", names.join(",")));
        }
        let mut seen = 0u64;
        loop {
            // The one alertable wait: routines run inside it.
            sleep_ex(None, true)?;
            loop {
                let next = self.fired.borrow_mut().pop_front();
                let Some((request, error)) = next else { break };
                if !error.is_ok() {
                    return Err(error);
                }
                seen += 1;
                let last = self.args.count.is_some_and(|n| seen >= n);
                // Posted again before the state is read (see the module docs).
                if !last {
                    self.post(request)?;
                }
                self.report(request)?;
                if last {
                    return Ok(());
                }
            }
        }
    }

    /// Prints one notification with the new state.
    fn report(&mut self, request: Request) -> Result<(), WsaError> {
        let mut n = 0;
        match request {
            Request::Addresses(i) => {
                let s = &self.sockets[i];
                let list = match s.ioctl_sync(&Ioctl::AddressListQuery, u32::MAX, &mut n)? {
                    IoctlOutput::AddressList(l) => l,
                    _ => Vec::new(),
                };
                let ips: Vec<String> = list.iter().map(|a| a.ip().to_string()).collect();
                if self.args.json {
                    emit(
                        &json!({"kind": "addresses", "family": family(s), "addresses": ips})
                            .to_string(),
                    );
                } else {
                    emit(&format!("addresses {}: {}", family(s), ips.join(" ")));
                }
            }
            Request::Routes(i) => {
                let s = &self.sockets[i];
                let dest = self
                    .args
                    .route_to
                    .filter(|d| d.is_ipv6() == (family(s) == "ipv6"));
                let via = dest.map(|d| {
                    match s.ioctl_sync(&Ioctl::RoutingInterfaceQuery(d), u32::MAX, &mut n) {
                        Ok(IoctlOutput::RoutingInterface(a)) => Ok(a.ip().to_string()),
                        Ok(_) => Err("unknown".to_string()),
                        Err(e) => Err(e.name().unwrap_or("error").to_string()),
                    }
                });
                if self.args.json {
                    let mut v = json!({"kind": "routes", "family": family(s)});
                    if let (Some(d), Some(via)) = (dest, &via) {
                        v["to"] = json!(d.ip().to_string());
                        match via {
                            Ok(local) => v["local"] = json!(local),
                            Err(e) => v["error"] = json!(e),
                        }
                    }
                    emit(&v.to_string());
                } else {
                    match (dest, via) {
                        (Some(d), Some(via)) => {
                            let via = match via {
                                Ok(local) => format!("from {local}"),
                                Err(e) => format!("unreachable ({e})"),
                            };
                            emit(&format!("routes {}: to {} {via}", family(s), d.ip()))
                        }
                        _ => emit(&format!("routes {}: changed", family(s))),
                    }
                }
            }
            Request::Resolver => {
                // A new query sees the new configuration (it only resolves:
                // the watch stays with `self.lookup`, whose next request
                // re-arms itself, also over a recreated directory).
                let mut fresh = LookupService::begin(&self.args.host)?;
                let mut ips = Vec::new();
                let mut error = None;
                loop {
                    match fresh.next() {
                        Ok(ip) => ips.push(ip.to_string()),
                        Err(WsaError::WSA_E_NO_MORE) => break,
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                let err = error.map(|e| e.name().unwrap_or("error").to_string());
                if self.args.json {
                    emit(&json!({"kind": "resolver", "host": self.args.host, "addresses": ips, "error": err}).to_string());
                } else {
                    let answer = err.unwrap_or_else(|| ips.join(" "));
                    emit(&format!("resolver: {} -> {answer}", self.args.host));
                }
            }
            Request::Providers => {
                let files = self
                    .providers
                    .as_ref()
                    .map(|p| p.watched_files())
                    .unwrap_or_default();
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                if self.args.json {
                    emit(&json!({"kind": "providers", "files": names}).to_string());
                } else {
                    emit(&format!("providers: changed ({})", names.join(" ")));
                }
            }
        }
        Ok(())
    }
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
