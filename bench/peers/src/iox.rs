//! iceoryx2 (crate iceoryx2 0.10.0) publish-subscribe as its docs show it:
//! a node per process, a `[u8]` slice service per direction, the publisher
//! loans a sample, copies the message in and sends it; the subscriber
//! busy-polls `receive()` and reads the sample in place. Lossless streaming:
//! safe overflow off, the publisher retries until delivered, and a
//! subscriber buffer holding as many messages as zipc's ring.
use crate::harness::*;
use iceoryx2::port::update_connections::UpdateConnections;
use crate::pubsub;
use iceoryx2::port::{publisher::Publisher, subscriber::Subscriber};
use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as PubSubFactory;
use std::time::{Duration, Instant};


type Service = PubSubFactory<ipc::Service, [u8], ()>;
type Tx = Publisher<ipc::Service, [u8], ()>;

/// The streams' publisher: lossless, it retries until every subscriber has room.
fn lossless_publisher(svc: &Service, size: usize) -> Res<Tx> {
    svc.publisher_builder()
        .initial_max_slice_len(size)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .map_err(e("publisher"))
}

/// Loan a sample, copy the message in, send it.
fn send_copy(tx: &Tx, m: &[u8]) -> Res<()> {
    let s = tx.loan_slice_uninit(m.len()).map_err(e("loan"))?;
    s.write_from_slice(m).send().map(|_| ()).map_err(e("send"))
}

fn e<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |x| format!("iceoryx2 {what}: {x:?}")
}

/// The subscriber's buffer for a stream of `size`-byte messages: as many as
/// zipc's ring of that row holds (ZIPC_PEERS_IOX_BUFFER overrides).
pub fn buffer_for(size: usize) -> usize {
    if let Some(n) = std::env::var("ZIPC_PEERS_IOX_BUFFER").ok().and_then(|s| s.parse().ok()) {
        return n;
    }
    (crate::zipc_ring_for(size) / size).max(2)
}

fn node() -> Res<Node<ipc::Service>> {
    NodeBuilder::new().create::<ipc::Service>().map_err(e("node"))
}

fn service_name(name: &str) -> Res<ServiceName> {
    name.try_into().map_err(e("service name"))
}

/// Wait until the peer's ports are there, so no message goes to nobody.
fn await_ports(ready: impl Fn() -> bool) -> Res<()> {
    let t = Instant::now();
    while !ready() {
        if t.elapsed() > Duration::from_secs(10) {
            return Err("iceoryx2: the peer's ports did not appear in 10 s".into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

pub fn rtt(name: &str, cfg: &Cfg, iters: usize, samples: &mut Vec<u64>) -> Res<Part> {
    let n = unique(name);
    let node = node()?;
    let open = |dir: &str| {
        node.service_builder(&service_name(&format!("{n}/{dir}"))?)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(false)
            .max_publishers(1)
            .max_subscribers(1)
            .create()
            .map_err(e("create service"))
    };
    let (ping, pong) = (open("ping")?, open("pong")?);
    let tx = ping.publisher_builder().initial_max_slice_len(RTT_SIZE).create().map_err(e("publisher"))?;
    let rx = pong.subscriber_builder().create().map_err(e("subscriber"))?;
    let peer = Peer::spawn(&ChildSpec::encode(name, "rtt", RTT_SIZE, &n, 0.0, iters), cfg)?;
    let run = (|| -> Res<Part> {
        await_ports(|| {
            ping.dynamic_config().number_of_subscribers() >= 1
                && pong.dynamic_config().number_of_publishers() >= 1
        })?;
        rtt_loop(
            iters,
            samples,
            &mut |m| {
                let s = tx.loan_slice_uninit(m.len()).map_err(e("loan"))?;
                s.write_from_slice(m).send().map(|_| ()).map_err(e("send"))
            },
            &mut |check| {
                let s = poll("iceoryx2 receive", || rx.receive().map_err(e("receive")))?;
                check(s.payload())
            },
        )
    })();
    peer.finish(run)
}

fn rtt_child(spec: &ChildSpec) -> Res<()> {
    let node = node()?;
    let open = |dir: &str| {
        node.service_builder(&service_name(&format!("{}/{dir}", spec.name))?)
            .publish_subscribe::<[u8]>()
            .open()
            .map_err(e("open service"))
    };
    let (ping, pong) = (open("ping")?, open("pong")?);
    let rx = ping.subscriber_builder().create().map_err(e("subscriber"))?;
    let tx = pong.publisher_builder().initial_max_slice_len(RTT_SIZE).create().map_err(e("publisher"))?;
    for _ in 0..spec.iters + spec.iters / 10 {
        let m = poll("iceoryx2 receive", || rx.receive().map_err(e("receive")))?;
        let s = tx.loan_slice_uninit(m.payload().len()).map_err(e("loan"))?;
        s.write_from_slice(m.payload()).send().map_err(e("send"))?;
    }
    Ok(())
}

pub fn stream(name: &str, size: usize, cfg: &Cfg, secs: f64) -> Res<Part> {
    let n = unique(name);
    let node = node()?;
    let buf = buffer_for(size);
    let svc = node
        .service_builder(&service_name(&n)?)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false)
        .subscriber_max_buffer_size(buf)
        .max_publishers(1)
        .max_subscribers(1)
        .create()
        .map_err(e("create service"))?;
    let rx = svc.subscriber_builder().buffer_size(buf).create().map_err(e("subscriber"))?;
    let mut peer = Peer::spawn(&ChildSpec::encode(name, "stream", size, &n, cfg.warm_s + secs, 0), cfg)?;
    let run = (|| -> Res<Part> {
        // A publisher that finds a full buffer of a subscriber not yet
        // connected drops the message (iceoryx2 avoids a deadlock so): the
        // producer starts once our subscriber has connected to it.
        await_ports(|| svc.dynamic_config().number_of_publishers() >= 1)?;
        rx.update_connections().map_err(e("update_connections"))?;
        peer.go()?;
        consume(size, cfg.warm_s, &mut |v| {
            let s = poll("iceoryx2 receive", || rx.receive().map_err(e("receive")))?;
            v.check(s.payload())
        })
    })();
    peer.finish(run)
}

fn stream_child(spec: &ChildSpec) -> Res<()> {
    let node = node()?;
    let svc = node
        .service_builder(&service_name(&spec.name)?)
        .publish_subscribe::<[u8]>()
        .open()
        .map_err(e("open service"))?;
    let tx = lossless_publisher(&svc, spec.size)?;
    await_go()?;
    let mut send = |m: &[u8]| send_copy(&tx, m);
    let sent = produce(spec.size, spec.secs, &mut send)?;
    send(&sent.to_le_bytes())
}

// ---- publish-subscribe with N subscriber processes (pubsub.rs) ----------------

pub struct IoxPub {
    tx: Tx,
    svc: Service,
    _node: Node<ipc::Service>,
}

/// The service for `subs` subscribers, each with a buffer of a zipc ring's
/// worth of messages, and its one publisher, retrying until delivered.
pub fn make_pub(name: &str, plan: &pubsub::Plan) -> Res<Box<dyn pubsub::Pub>> {
    let node = node()?;
    let buf = buffer_for(plan.size);
    let svc = node
        .service_builder(&service_name(name)?)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false)
        .subscriber_max_buffer_size(buf)
        .max_publishers(1)
        .max_subscribers(plan.subs)
        .create()
        .map_err(e("create service"))?;
    let tx = lossless_publisher(&svc, plan.size)?;
    Ok(Box::new(IoxPub { tx, svc, _node: node }))
}

impl pubsub::Pub for IoxPub {
    /// A publisher finding a subscriber it is not yet connected to would
    /// drop its message: connect to all first.
    fn ready(&mut self, subs: usize) -> Res<bool> {
        if self.svc.dynamic_config().number_of_subscribers() < subs {
            return Ok(false);
        }
        self.tx.update_connections().map_err(e("update_connections"))?;
        Ok(true)
    }
    fn send(&mut self, m: &[u8]) -> Res<()> {
        send_copy(&self.tx, m)
    }
}

struct IoxSub {
    rx: Subscriber<ipc::Service, [u8], ()>,
    _svc: Service,
    _node: Node<ipc::Service>,
}

impl pubsub::Sub for IoxSub {
    fn take(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
        let s = poll("iceoryx2 receive", || self.rx.receive().map_err(e("receive")))?;
        f(s.payload())
    }
}

fn make_sub(name: &str, size: usize) -> Res<Box<dyn pubsub::Sub>> {
    let node = node()?;
    let svc = node
        .service_builder(&service_name(name)?)
        .publish_subscribe::<[u8]>()
        .open()
        .map_err(e("open service"))?;
    let rx = svc.subscriber_builder().buffer_size(buffer_for(size)).create().map_err(e("subscriber"))?;
    Ok(Box::new(IoxSub { rx, _svc: svc, _node: node }))
}

pub fn child(spec: &ChildSpec) -> Res<()> {
    match spec.mode.as_str() {
        "rtt" => rtt_child(spec),
        "pubsub" => pubsub::child(spec, &|name| make_sub(name, spec.size)),
        _ => stream_child(spec),
    }
}

// ---- rpc (rpc.rs): request-response, as its docs show it ----------------------

use crate::rpc::{self, Shape};
use iceoryx2::pending_response::PendingResponse;
use iceoryx2::port::{client::Client as IoxClientPort, server::Server as IoxServerPort};
use iceoryx2::service::port_factory::request_response::PortFactory as RrFactory;
use std::collections::VecDeque;

type RrService = RrFactory<ipc::Service, [u8], (), [u8], ()>;

/// The client: loan_slice_uninit + copy + send gives a PendingResponse per
/// call; the oldest is polled (receive) until its response is there, read
/// in place; dropping both releases them. The service allows `inflight`
/// active requests per client (its default: 4).
struct RpcClient {
    client: IoxClientPort<ipc::Service, [u8], (), [u8], ()>,
    pending: VecDeque<PendingResponse<ipc::Service, [u8], (), [u8], ()>>,
    _svc: RrService,
    _node: Node<ipc::Service>,
}

impl rpc::Client for RpcClient {
    fn call(&mut self, req: &[u8]) -> Res<()> {
        let r = self.client.loan_slice_uninit(req.len()).map_err(e("loan request"))?;
        self.pending.push_back(r.write_from_slice(req).send().map_err(e("send request"))?);
        Ok(())
    }
    fn wait_oldest(&mut self, f: &mut dyn FnMut(&[u8]) -> Res<()>) -> Res<()> {
        let p = self.pending.pop_front().ok_or("iceoryx2 rpc: no call in flight")?;
        let r = poll("iceoryx2 response", || p.receive().map_err(e("receive response")))?;
        f(r.payload())
    }
}

/// We create the service and the client; the worker process opens it.
pub fn rpc_client(name: &str, s: &Shape) -> Res<Box<dyn rpc::Client>> {
    let node = node()?;
    let svc = node
        .service_builder(&service_name(name)?)
        .request_response::<[u8], [u8]>()
        .max_active_requests_per_client(s.inflight.max(1))
        .max_response_buffer_size(1)
        .max_clients(1)
        .max_servers(1)
        .create()
        .map_err(e("create request-response service"))?;
    let client = svc.client_builder().initial_max_slice_len(s.req).create().map_err(e("client"))?;
    // A request sent before the server is connected reaches nobody.
    await_ports(|| svc.dynamic_config().number_of_servers() >= 1)?;
    Ok(Box::new(RpcClient { client, pending: VecDeque::new(), _svc: svc, _node: node }))
}

/// The worker: receive an ActiveRequest, loan the response's slice, write
/// it in place, send; dropping the request ends it.
struct RpcWorker {
    server: IoxServerPort<ipc::Service, [u8], (), [u8], ()>,
    _svc: RrService,
    _node: Node<ipc::Service>,
}

impl rpc::Worker for RpcWorker {
    fn serve(&mut self, reply: usize, f: &mut dyn FnMut(&[u8], &mut [u8]) -> Res<()>) -> Res<bool> {
        let q = poll("iceoryx2 request", || self.server.receive().map_err(e("receive request")))?;
        let stop = q.payload().len() == rpc::STOP_LEN;
        let n = if stop { rpc::STOP_LEN } else { reply };
        let mut r = q.loan_slice_uninit(n).map_err(e("loan response"))?;
        // SAFETY: MaybeUninit<u8> is a u8; every byte is written before assume_init.
        let out = unsafe { &mut *(r.payload_mut() as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
        if stop {
            out.fill(0);
        } else {
            f(q.payload(), out)?;
        }
        // SAFETY: initialised just above.
        unsafe { r.assume_init() }.send().map_err(e("send response"))?;
        Ok(!stop)
    }
}

pub fn rpc_worker(name: &str, s: &Shape) -> Res<Box<dyn rpc::Worker>> {
    let node = node()?;
    let sn = service_name(name)?;
    let svc = retry("iceoryx2 open request-response service", || {
        node.service_builder(&sn).request_response::<[u8], [u8]>().open().map_err(e("open service"))
    })?;
    let server = svc.server_builder().initial_max_slice_len(s.reply).create().map_err(e("server"))?;
    Ok(Box::new(RpcWorker { server, _svc: svc, _node: node }))
}
