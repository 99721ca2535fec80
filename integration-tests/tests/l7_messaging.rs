//! NATS, MQTT, AMQP 0-9-1 and ZooKeeper through the ebpf receiver: the real servers (Debian's
//! nats-server, mosquitto, rabbitmq-server, zookeeper), each started here on a free loopback port
//! with a temp dir of its own and stopped on drop, and the real Python clients (nats-py,
//! paho-mqtt, pika, kazoo from the project's .venv). Every assertion is on the client spans that
//! arrived behind the second collector, named and attributed by ferrotel-l7, and on the
//! credentials each client sent being in none of them. Needs root, as the receiver does.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ebpf::{Pipeline, assert_attrs, assert_root, attr};
use common::{python, servers};
use ferrotel_integration_tests::procs::{self, Proc, free_port};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// rabbitmq-server took 10 to 12 s to listen here (2 cores, shared); the others 3 s at most.
const START: Duration = Duration::from_secs(90);

fn nonce() -> String {
    format!(
        "t{:x}",
        u64::from(std::process::id()) * 7919 + u64::from(free_port())
    )
}

/// A server in a process group of its own (rabbitmq-server's script starts the Erlang VM as its
/// child), killed as a group when dropped.
struct Server {
    proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
    /// What else to run once the group is gone.
    cleanup: Option<Command>,
    spawned: Instant,
}

impl Server {
    fn spawn(name: &str, mut command: Command, port: u16, dir: tempfile::TempDir) -> Server {
        command.process_group(0);
        Server {
            proc: Proc::spawn(name, command),
            port,
            _dir: dir,
            cleanup: None,
            spawned: Instant::now(),
        }
    }

    fn wait_ready(&mut self, name: &str) {
        self.proc.wait_for_port(servers::loopback(self.port), START);
        let took = self.spawned.elapsed();
        eprintln!(
            "{name} listens on {} (checked {took:?} after its start)",
            self.port
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.proc.pid());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        // epmd refuses to stop while it still counts the dead VM among its nodes
        if let Some(cleanup) = &mut self.cleanup {
            procs::wait_for(Duration::from_secs(10), || {
                let out = cleanup.output().ok()?;
                let said = [out.stdout, out.stderr].concat();
                (!String::from_utf8_lossy(&said).contains("not allowed")).then_some(())
            });
        }
    }
}

fn nats_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut c = Command::new("nats-server");
    c.args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(["--user", "app", "--pass", "nats-secret-2231"])
        .current_dir(dir.path());
    Server::spawn("nats-server", c, port, dir)
}

fn mosquitto() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = procs::write_file(
        dir.path(),
        "mosquitto.conf",
        &format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    );
    let mut c = Command::new("mosquitto");
    c.arg("-c").arg(config);
    Server::spawn("mosquitto", c, port, dir)
}

fn zookeeper() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = procs::write_file(
        dir.path(),
        "zoo.cfg",
        &format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n",
            dir.path().join("data").display()
        ),
    );
    let mut c = Command::new("java");
    c.args(["-cp", "/usr/share/java/*"])
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(config)
        .current_dir(dir.path());
    Server::spawn("zookeeper", c, port, dir)
}

/// rabbitmq-server as the current user (Debian's /usr/sbin wrapper would switch to `rabbitmq`,
/// who cannot write the temp dir), with every path and port its own, and its own epmd, which the
/// VM starts as a daemon and which is stopped by its port once the broker is gone.
fn rabbitmq() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let cookie = procs::write_file(&home, ".erlang.cookie", "FERROTELL7MESSAGING");
    let _ = Command::new("chmod").arg("400").arg(&cookie).status();
    let (port, dist, epmd) = (free_port(), free_port(), free_port());
    let path = |p: &str| dir.path().join(p);
    let mut c = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    c.env("HOME", &home)
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_NODE_PORT", port.to_string())
        .env("RABBITMQ_DIST_PORT", dist.to_string())
        .env("ERL_EPMD_PORT", epmd.to_string())
        .env("ERL_EPMD_ADDRESS", "127.0.0.1")
        .env(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}",
        )
        .env("RABBITMQ_NODENAME", format!("ferrotel-{port}@localhost"))
        .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
        .env("RABBITMQ_LOG_BASE", path("log"))
        .env("RABBITMQ_PID_FILE", path("rabbit.pid"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins"))
        .env("RABBITMQ_CONFIG_FILES", path("conf.d"))
        .current_dir(dir.path());
    let mut server = Server::spawn("rabbitmq-server", c, port, dir);
    let mut stop_epmd = Command::new("epmd");
    stop_epmd.args(["-port", &epmd.to_string(), "-kill"]);
    server.cleanup = Some(stop_epmd);
    server
}

/// Waits for the span of the request that carried the credentials (`login`), then asserts that
/// no attribute of any span to `port` holds `secret`.
fn no_secret(p: &Pipeline, protocol: &str, port: u16, login: &str, secret: &str) {
    let span = p.span_named(protocol, port, login);
    assert_eq!(attr(&span, "messaging.destination.name"), None, "{span:?}");
    p.assert_spans_hide(protocol, port, &[secret]);
}

fn nats_case(p: &Pipeline, server: &Server, id: &str) {
    // verbose: the server acknowledges each PUB and SUB with +OK, an exchange of its own
    python::code(
        "nats-py",
        "import asyncio, sys, nats\n\
         async def main(port, id):\n\
         \x20   nc = await nats.connect(f'nats://app:nats-secret-2231@127.0.0.1:{port}', verbose=True)\n\
         \x20   await nc.subscribe(f'events.{id}', queue='workers')\n\
         \x20   await nc.flush()\n\
         \x20   await nc.publish(f'orders.{id}', b'{\"card\": \"4111\"}')\n\
         \x20   await nc.flush()\n\
         \x20   await nc.close()\n\
         asyncio.run(main(int(sys.argv[1]), sys.argv[2]))\n",
        &[&server.port.to_string(), id],
    );
    let span = p.span_named("nats", server.port, &format!("publish orders.{id}"));
    assert_attrs(
        &span,
        &[
            ("messaging.system", "nats"),
            ("messaging.operation.type", "send"),
            ("messaging.destination.name", &format!("orders.{id}")),
        ],
    );
    let span = p.span_named("nats", server.port, &format!("subscribe events.{id}"));
    assert_attrs(&span, &[("messaging.consumer.group.name", "workers")]);
    no_secret(p, "nats", server.port, "connect", "nats-secret-2231");
}

fn mqtt_case(p: &Pipeline, server: &Server, id: &str) {
    // each request waits for its acknowledgement: the kernel pairs MQTT requests with the next
    // acknowledgement, in order, and a SUBSCRIBE sent before the CONNACK is not paired
    python::code(
        "paho-mqtt",
        "import sys, threading, time\n\
         import paho.mqtt.client as mqtt\n\
         port, id = int(sys.argv[1]), sys.argv[2]\n\
         for version in (mqtt.MQTTv311, mqtt.MQTTv5):\n\
         \x20   v = '5' if version == mqtt.MQTTv5 else '311'\n\
         \x20   c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f'ferrotel-{v}', protocol=version)\n\
         \x20   c.username_pw_set('sensor', 'mqtt-secret-7741')\n\
         \x20   connected, subscribed = threading.Event(), threading.Event()\n\
         \x20   c.on_connect = lambda *a: connected.set()\n\
         \x20   c.on_subscribe = lambda *a: subscribed.set()\n\
         \x20   c.connect('127.0.0.1', port)\n\
         \x20   c.loop_start()\n\
         \x20   assert connected.wait(5)\n\
         \x20   c.subscribe(f'alerts/{id}/v{v}/#', qos=1)\n\
         \x20   assert subscribed.wait(5)\n\
         \x20   c.publish(f'sensors/{id}/v{v}', b'21.5', qos=1).wait_for_publish(5)\n\
         \x20   time.sleep(0.2)\n\
         \x20   c.disconnect()\n\
         \x20   c.loop_stop()\n",
        &[&server.port.to_string(), id],
    );
    for v in ["311", "5"] {
        let span = p.span_named("mqtt", server.port, &format!("publish sensors/{id}/v{v}"));
        assert_attrs(
            &span,
            &[
                ("messaging.system", "mqtt"),
                ("messaging.operation.type", "send"),
            ],
        );
        let span = p.span_named(
            "mqtt",
            server.port,
            &format!("subscribe alerts/{id}/v{v}/#"),
        );
        assert_attrs(&span, &[("messaging.operation.type", "receive")]);
    }
    no_secret(p, "mqtt", server.port, "connect", "mqtt-secret-7741");
}

fn rabbitmq_case(p: &Pipeline, server: &Server, id: &str) {
    // publisher confirms: the broker answers each publish with basic.ack
    python::code(
        "pika",
        "import sys, pika\n\
         port, id = int(sys.argv[1]), sys.argv[2]\n\
         conn = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', port))\n\
         ch = conn.channel()\n\
         ch.confirm_delivery()\n\
         ch.exchange_declare(f'logs_{id}', exchange_type='direct')\n\
         ch.queue_declare(f'orders_{id}')\n\
         ch.queue_bind(f'orders_{id}', f'logs_{id}', routing_key='warning')\n\
         ch.basic_publish(f'logs_{id}', 'warning', b'disk almost full')\n\
         ch.basic_get(f'orders_{id}', auto_ack=True)\n\
         conn.close()\n",
        &[&server.port.to_string(), id],
    );
    let span = p.span_named("amqp", server.port, &format!("publish logs_{id}:warning"));
    assert_attrs(
        &span,
        &[
            ("messaging.system", "rabbitmq"),
            ("messaging.operation.type", "send"),
            ("messaging.rabbitmq.destination.routing_key", "warning"),
        ],
    );
    let span = p.span_named("amqp", server.port, &format!("get orders_{id}"));
    assert_attrs(&span, &[("messaging.operation.type", "receive")]);
    p.span_named("amqp", server.port, &format!("queue.declare orders_{id}"));
    // guest/guest, in connection.start-ok's response
    no_secret(p, "amqp", server.port, "connection.start-ok", "guest");
    // the broker's side: it reads each method and answers with a writev whose first iovec is
    // empty, which the kernel reads past
    let declare = format!("queue.declare orders_{id}");
    p.wait("the broker's server span of queue.declare", |r| {
        ferrotel_integration_tests::otlp_query::spans(r)
            .into_iter()
            .find(|(_, s)| {
                s.kind == SpanKind::Server as i32
                    && attr(s, "l7.protocol").as_deref() == Some("amqp")
                    && s.name == declare
            })
    });
}

fn zookeeper_case(p: &Pipeline, server: &Server, id: &str) {
    python::code(
        "kazoo",
        "import sys\n\
         from kazoo.client import KazooClient\n\
         port, id = int(sys.argv[1]), sys.argv[2]\n\
         zk = KazooClient(hosts=f'127.0.0.1:{port}', auth_data=[('digest', 'app:zk-secret-5511')])\n\
         zk.start()\n\
         zk.create(f'/ferrotel-{id}/config', b'db=primary', makepath=True)\n\
         zk.get(f'/ferrotel-{id}/config')\n\
         zk.set(f'/ferrotel-{id}/config', b'db=replica')\n\
         zk.delete(f'/ferrotel-{id}', recursive=True)\n\
         zk.stop()\n",
        &[&server.port.to_string(), id],
    );
    let get_data = format!("getData /ferrotel-{id}/config");
    let span = p.span_named("zookeeper", server.port, &get_data);
    assert_attrs(
        &span,
        &[
            ("db.system.name", "zookeeper"),
            ("db.operation.name", "getData"),
            ("db.query.text", &get_data),
        ],
    );
    p.span_named(
        "zookeeper",
        server.port,
        &format!("setData /ferrotel-{id}/config"),
    );
    for secret in ["zk-secret-5511", "db=primary", "db=replica"] {
        no_secret(p, "zookeeper", server.port, "auth", secret);
    }
}

#[test]
fn messaging_and_coordination_protocols_through_the_kernel() {
    assert_root();
    // the broker that boots slowest first: it comes up while the others run
    let mut rabbit = rabbitmq();
    let p = Pipeline::start("");
    let id = nonce();
    let mut nats = nats_server();
    nats.wait_ready("nats-server");
    nats_case(&p, &nats, &id);
    let mut mqtt = mosquitto();
    mqtt.wait_ready("mosquitto");
    mqtt_case(&p, &mqtt, &id);
    let mut zk = zookeeper();
    zk.wait_ready("zookeeper");
    zookeeper_case(&p, &zk, &id);
    rabbit.wait_ready("rabbitmq-server");
    rabbitmq_case(&p, &rabbit, &id);
}
