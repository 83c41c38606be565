"""A check for the hostile-input tests: it fails once per subject the snapshot names, so any fix
template a test rule file carries is rendered with snapshot values in its context."""
from sriovcheck.api import HOST, Subject, check, failed


@check("hostile-echo")
def hostile_echo(facts, params):
    """Fails on the host and on every interface and guest, with their names in the context."""
    yield failed(HOST, f"host {facts.hostname}", ("/proc/sys/kernel/hostname", str(facts.hostname)),
                 iface="", guest="")
    for iface in facts.interfaces or ():
        yield failed(Subject("interface", iface.name, iface.name), f"interface {iface.name}",
                     (f"/sys/class/net/{iface.name}", iface.name), iface=iface.name, guest="")
    for guest in facts.guests or ():
        yield failed(Subject("guest", guest.name, guest.name), f"guest {guest.name}",
                     ("/etc/libvirt/qemu", guest.name), iface="", guest=guest.name)
