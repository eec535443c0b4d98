/**
 * The operator's path on two lab hosts with a TLS + password etcd: flanneld started as flanneld.service starts
 * it (h1 from a CentOS-style /etc/sysconfig/flanneld holding the TLS and auth flags in FLANNEL_OPTIONS, h2 from
 * a Debian-style /etc/default/flanneld using FLANNELD_* variables), systemd's READY=1/STOPPING=1 received on a
 * notify socket, `flannelctl docker-opts` as the unit's ExecStartPost, a real dockerd per host configured
 * through the docker drop-in's $DOCKER_NETWORK_OPTIONS, and `docker run` containers on different hosts pinging
 * each other across flannel; on a third host a pod made through the shipped CNI conflist (flannel + portmap,
 * plugins linked into one CNI bin directory as docs/install.md says) reaches those containers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CNI_JS, CNI_PLUGIN_DIR, FLANNELD_JS, FLANNEL_PASSWORD, FLANNEL_USER, Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns, run } from '../../src/lab/shell.js';
import { type Conflist, conflistAdd, conflistDel } from '../support/cni-conflist.js';
import { BUSYBOX_IMAGE, LabDocker, busyboxRootfs } from '../support/lab-docker.js';
import { taggedPrefix } from '../support/lab-suite.js';
import { NotifyReceiver } from '../support/notify-receiver.js';
import { execStartArgv, parseEnvironmentFile, unitSection } from '../support/systemd-unit.js';
import { type UnitProcess, startUnit, stopLeftover, stopProcess } from '../support/unit-process.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const UNIT = readFileSync(join(root, 'deploy', 'systemd', 'flanneld.service'), 'utf8');
const DOCKER_DROP_IN = readFileSync(join(root, 'deploy', 'systemd', 'docker.service.d', 'flannel.conf'), 'utf8');
const FLANNELCTL_JS = join(root, 'dist', 'src', 'cmd', 'flannelctl.js');
const CONFLIST = JSON.parse(readFileSync(join(root, 'deploy', 'cni', '10-flannel.conflist'), 'utf8')) as Conflist;

describe('host integration: systemd unit, env files, notify, docker', { timeout: 120_000 }, () => {
  const lab = new Lab({ prefix: taggedPrefix('fhi'), hosts: 3, backend: 'vxlan', secureEtcd: true });
  const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
  const containerIps = new Map<LabHost, string>();
  const services = new Map<LabHost, UnitProcess>();
  const receivers = new Map<LabHost, NotifyReceiver>();
  const dockers = new Map<LabHost, LabDocker>();

  /** The env file each host's flanneld.service reads. */
  function envFiles(host: LabHost): Record<string, string> {
    const tls = lab.clientTls;
    const common = `FLANNEL_ETCD_ENDPOINTS="${lab.etcdUrl}"\nFLANNEL_ETCD_PREFIX="/coreos.com/network"\n`;
    const local = `--iface=eth0 --subnet-file=${lab.subnetFile(host)} --ip-masq --healthz-ip=${host.underlayIp} --healthz-port=${host.healthzPort} --status-socket=${lab.statusSocket(host)}`;
    if (host !== h2) {
      return { '/etc/sysconfig/flanneld': `# CentOS style\n${common}FLANNEL_OPTIONS="--etcd-cafile=${tls.ca} --etcd-certfile=${tls.cert} --etcd-keyfile=${tls.key} --etcd-username=${FLANNEL_USER} --etcd-password=${FLANNEL_PASSWORD} ${local}"\n` };
    }
    return {
      '/etc/default/flanneld': `# Debian style\n${common}FLANNEL_OPTIONS="${local}"\nFLANNELD_ETCD_CAFILE=${tls.ca}\nFLANNELD_ETCD_CERTFILE=${tls.cert}\nFLANNELD_ETCD_KEYFILE=${tls.key}\nFLANNELD_ETCD_USERNAME=${FLANNEL_USER}\nFLANNELD_ETCD_PASSWORD='${FLANNEL_PASSWORD}'\n`,
    };
  }

  before(async () => {
    for (const host of lab.layout.hosts) {
      await new LabDocker(lab, host).stopLeftover();
      await stopLeftover(join(lab.hostDir(host), 'flanneld.pid'), FLANNELD_JS);
    }
    await lab.down();
    lab.createNetwork();
    await lab.startEtcd();
    lab.putConfig(lab.networkConfig());
    for (const host of [h1, h2, h3]) {
      const receiver = new NotifyReceiver(join(lab.hostDir(host), 'notify'));
      receivers.set(host, receiver);
      services.set(host, startUnit({
        netns: host.netns, unitText: UNIT, files: envFiles(host), executables: { '/usr/local/bin/flanneld': FLANNELD_JS },
        notifySocket: receiver.name, logPath: join(lab.hostDir(host), 'flanneld.log'), pidFile: join(lab.hostDir(host), 'flanneld.pid'),
      }));
    }
  });

  after(async () => {
    await Promise.all([...dockers.values()].map((docker) => docker.stop()));
    for (const service of services.values()) await stopProcess(service.child.pid);
    for (const receiver of receivers.values()) receiver.close();
    await lab.down();
  });

  it('the flags in FLANNEL_OPTIONS (and FLANNELD_* from /etc/default) reach flanneld', () => {
    const argv1 = services.get(h1)?.argv ?? [];
    assert.deepEqual(argv1.slice(0, 3), ['/usr/local/bin/flanneld', `--etcd-endpoints=${lab.etcdUrl}`, '--etcd-prefix=/coreos.com/network']);
    assert.ok(argv1.includes(`--etcd-certfile=${lab.clientTls.cert}`) && argv1.includes(`--etcd-password=${FLANNEL_PASSWORD}`), argv1.join(' '));
    assert.equal(services.get(h2)?.environment.get('FLANNELD_ETCD_PASSWORD'), FLANNEL_PASSWORD);
  });

  it('READY=1 arrives once subnet.env is written, with a STATUS naming the subnet', async () => {
    for (const host of [h1, h2, h3]) {
      const message = await (receivers.get(host) as NotifyReceiver).waitFor('READY=1', 20_000).catch((error: Error) => {
        throw new Error(`${error.message}\nflanneld log:\n${lab.flanneldLog(host).slice(-3000)}`);
      });
      const subnetEnv = readFileSync(lab.subnetFile(host), 'utf8');
      const subnet = /FLANNEL_SUBNET=(\S+)/.exec(subnetEnv)?.[1] ?? '';
      assert.match(message, new RegExp(`^STATUS=ready: subnet ${subnet.replace(/\.1\//, '.0/').replace(/\./g, '\\.')}, .*subnet\\.env written$`, 'm'));
      assert.match(subnetEnv, /FLANNEL_IPMASQ=true/, '--ip-masq from FLANNEL_OPTIONS');
      // TLS and the password were used: a lease exists for this host, and no insecure-connection warning.
      assert.doesNotMatch(lab.flanneldLog(host), /connecting to etcd with http/);
      assert.match(lab.etcdctl(['get', '--prefix', '/coreos.com/network/subnets/']).stdout, new RegExp(`"PublicIP":"${host.underlayIp.replace(/\./g, '\\.')}"`));
    }
    // The text log format by default: klog-style lines.
    assert.match(lab.flanneldLog(h1), /^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ flanneld\] "flannel is ready" subnet=/m);
  });

  it('docker-opts (the unit\'s ExecStartPost) and dockerd configured through the drop-in: containers on different hosts ping each other', async () => {
    const rootfs = busyboxRootfs(lab.stateDir);
    const postArgv = unitSection(UNIT, 'Service').find(([key]) => key === 'ExecStartPost')?.[1].split(' ') ?? [];
    assert.deepEqual(postArgv, ['/usr/local/bin/flannelctl', 'docker-opts', '-k', 'DOCKER_NETWORK_OPTIONS', '-d', '/run/flannel/docker']);
    await Promise.all([h1, h2].map(async (host) => {
      // ExecStartPost, with this lab host's paths for -f and -d.
      const optionsFile = join(lab.hostDir(host), 'docker-options');
      inNetns(host.netns, process.execPath, [FLANNELCTL_JS, ...postArgv.slice(1, 4), '-d', optionsFile, '-f', lab.subnetFile(host)]);
      const options = parseEnvironmentFile(readFileSync(optionsFile, 'utf8'));
      const subnet = /FLANNEL_SUBNET=(\S+)/.exec(readFileSync(lab.subnetFile(host), 'utf8'))?.[1];
      assert.equal(options.get('DOCKER_NETWORK_OPTIONS'), ` --bip=${subnet} --ip-masq=false --mtu=1450`);
      // docker.service with the drop-in: EnvironmentFile=-/run/flannel/docker, then $DOCKER_NETWORK_OPTIONS split into words.
      const dockerdArgv = execStartArgv(DOCKER_DROP_IN, options);
      assert.deepEqual(dockerdArgv.slice(0, 4), ['/usr/sbin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock']);
      const docker = new LabDocker(lab, host);
      dockers.set(host, docker);
      // The lab's dockerd has its own socket and containerd instead of systemd's socket activation.
      await docker.start(dockerdArgv.slice(4));
      docker.importBusybox(rootfs);
      docker.docker(['run', '-d', '--name', 'c1', BUSYBOX_IMAGE, 'sleep', '600']);
      const ip = docker.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'c1']).stdout.trim();
      assert.equal(ip.split('.').slice(0, 3).join('.'), subnet?.split('.').slice(0, 3).join('.'), `container on ${host.name} gets an address of the flannel subnet ${subnet}`);
      assert.match(inNetns(host.netns, 'ip', ['-o', 'addr', 'show', 'docker0']).stdout, new RegExp(`inet ${subnet?.replace(/\./g, '\\.')} `));
      assert.match(inNetns(host.netns, 'ip', ['-o', 'link', 'show', 'docker0']).stdout, / mtu 1450 /);
      containerIps.set(host, ip);
    }));
    for (const [from, to] of [[h1, h2], [h2, h1]] as const) {
      const result = dockers.get(from)?.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', containerIps.get(to) as string], { allowFailure: true });
      assert.equal(result?.status, 0, `container on ${from.name} → container on ${to.name} (${containerIps.get(to)}): ${result?.stdout}${result?.stderr}`);
    }
  });

  it('a pod made through the shipped CNI conflist (flannel + portmap) reaches the containers on the docker hosts', () => {
    const [flannel, portmap] = CONFLIST.plugins;
    assert.deepEqual([CONFLIST.cniVersion, flannel?.type, flannel?.subnetFile, flannel?.dataDir, portmap?.type], ['1.0.0', 'flannel', '/run/flannel/subnet.env', '/var/lib/cni/flannel', 'portmap']);
    // One CNI bin directory holding our plugin and Debian's reference plugins, as docs/install.md sets up /opt/cni/bin.
    const binDir = join(lab.stateDir, 'cni-bin');
    mkdirSync(binDir, { recursive: true });
    symlinkSync(CNI_JS, join(binDir, 'flannel'));
    for (const plugin of ['bridge', 'host-local', 'portmap', 'loopback']) symlinkSync(join(CNI_PLUGIN_DIR, plugin), join(binDir, plugin));
    const dataDir = join(lab.hostDir(h3), 'cni');
    const conflist: Conflist = { ...CONFLIST, plugins: [{ ...flannel, type: 'flannel', subnetFile: lab.subnetFile(h3), dataDir }, ...CONFLIST.plugins.slice(1)] };
    run('ip', ['netns', 'add', h3.podNetns]);
    const runtime = { netns: h3.netns, podNetns: h3.podNetns, containerId: 'pod-h3', binDir };
    const result = conflistAdd(conflist, runtime) as { ips?: Array<{ address: string }> };
    const podIp = result.ips?.[0]?.address.split('/')[0] ?? '';
    const subnet = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\./.exec(readFileSync(lab.subnetFile(h3), 'utf8'))?.[1];
    assert.ok(subnet && podIp.startsWith(`${subnet}.`), `pod address ${podIp} in ${subnet}.0/24`);
    assert.ok(existsSync(join(dataDir, 'pod-h3')), 'the delegate config is kept in dataDir');
    for (const host of [h1, h2]) assert.ok(lab.ping(h3.podNetns, containerIps.get(host) ?? '', 1, 2), `pod on h3 → container on ${host.name}`);
    conflistDel(conflist, runtime, result);
    assert.ok(!existsSync(join(dataDir, 'pod-h3')), 'DEL removes it');
  });

  it('STOPPING=1 on SIGTERM', async () => {
    const service = services.get(h2) as UnitProcess;
    process.kill(service.child.pid as number, 'SIGTERM');
    const message = await (receivers.get(h2) as NotifyReceiver).waitFor('STOPPING=1', 10_000);
    assert.match(message, /^STATUS=stopping \(SIGTERM\)$/m);
    await stopProcess(service.child.pid);
    assert.ok(existsSync(lab.subnetFile(h2)), 'subnet.env stays for the next start');
  });
});
