#!/bin/sh
# Run by the guest's /init (tools/bluez-vm/init) from the checkout's share:
# start the system D-Bus and bluetoothd, run /mnt/out/job.sh (written by run.py)
# with its output on the console and in job.log, and leave its exit status in
# /mnt/out/rc. The VM powers off when this returns.
export PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
# Compiled tproutine modules go to the host's cache (share "pycache"), not the
# read-only checkout: the next run need not compile them again.
mkdir -p /var/cache/pycache
mount -t 9p -o trans=virtio,version=9p2000.L pycache /var/cache/pycache 2>/dev/null \
  || say "no pycache share: compiling in the guest only"
export PYTHONPYCACHEPREFIX=/var/cache/pycache PYTHONUNBUFFERED=1
say() { echo "bluez-vm: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

mkdir -p /run/dbus /var/lib/bluetooth
dbus-uuidgen --ensure
dbus-daemon --system --fork
# bluetoothd's debug log (-d; "bluez_vm_debug" on the kernel command line, from
# run.py --debug) slows it badly under emulation: kept in RAM, copied at the end.
debug=""
if grep -q bluez_vm_debug /proc/cmdline; then
  debug="-d"
  # Every HCI packet between the kernel and the controller, for the record.
  btmon -w /tmp/btmon.snoop >/dev/null 2>&1 &
fi
/usr/libexec/bluetooth/bluetoothd -n $debug >/tmp/bluetoothd.log 2>&1 &
i=0
until dbus-send --system --print-reply --dest=org.bluez / \
  org.freedesktop.DBus.ObjectManager.GetManagedObjects >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 100 ] || { say "bluetoothd did not come up"; break; }
  sleep 0.1
done
say "bluetoothd $(bluetoothd --version) ready $(uptime_s) s after the kernel"

if [ -f /mnt/out/job.sh ]; then
  cd /mnt/src || exit 1
  ( sh /mnt/out/job.sh; echo $? >/mnt/out/rc ) 2>&1 | tee /mnt/out/job.log
  say "job ended with status $(cat /mnt/out/rc) $(uptime_s) s after the kernel"
else
  say "no /mnt/out/job.sh: nothing to run"
fi
cp /tmp/bluetoothd.log /mnt/out/bluetoothd.log
if [ -f /tmp/btmon.snoop ]; then
  sync
  cp /tmp/btmon.snoop /mnt/out/btmon.snoop
  btmon -r /tmp/btmon.snoop -T >/mnt/out/btmon.log 2>&1 || true
fi
