"""Hostile libvirt XML (domain definitions, running-domain status, nodedev dumps).

Snapshots carry XML written by whoever controlled the machine.  Entity expansion, external
entities, any DTD and XInclude must never expand, fetch or read anything: the parser refuses the
document (ParseError), the collector lists that file as a collection problem, its facts stay
unknown, and the rest of the run goes on.  The hostile documents are real corpus files with the
attack spliced in.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest
from hostilekit import CORPUS, DictSource, load_synth, problems_of, synth_root

from sriovcheck.collect import collect_facts
from sriovcheck.errors import ParseError
from sriovcheck.parsers.libvirt_domain import parse_domain_xml
from sriovcheck.parsers.libvirt_network import parse_network_xml
from sriovcheck.parsers.nodedev import parse_nodedev_xml

DOMAIN = "libvirt/net-hostdev-vfio.xml"
NODEDEV = "libvirt/nodedev_pci_0000_02_10_7_sriov_pf_vfs_all.xml"
SECRET = "TOP-SECRET-CONTENT-OF-A-LOCAL-FILE"


def corpus_text(rel: str) -> str:
    path = CORPUS / rel
    if not path.is_file():
        pytest.fail(f"CORPUS MISSING: {path}: the repository carries it (tests/corpus)")
    return path.read_text()


def _entities(root: str, secret_file: Path) -> Dict[str, Tuple[str, str]]:
    """name -> (prologue, text put inside the first child element); ``root`` is the document element."""
    laugh = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    uri = secret_file.as_uri()
    return {
        "billion-laughs": (f"<!DOCTYPE {root} [{laugh}]>", "&l9;"),
        "quadratic-blowup": (f'<!DOCTYPE {root} [<!ENTITY a "{"x" * 50_000}">]>', "&a;" * 50_000),
        "external-entity": (f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{uri}">]>', "&xxe;"),
        "external-parameter-entity": (f'<!DOCTYPE {root} [<!ENTITY % p SYSTEM "{uri}"> %p;]>', ""),
        "external-dtd": (f'<!DOCTYPE {root} SYSTEM "{uri}">', ""),
        "public-dtd": (f'<!DOCTYPE {root} PUBLIC "-//X//Y" "http://127.0.0.1:9/x.dtd">', ""),
        "internal-dtd-only": (f"<!DOCTYPE {root} [<!ELEMENT {root} ANY>]>", ""),
        "unparsed-entity": (f'<!DOCTYPE {root} [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "{uri}" NDATA n>]>', ""),
        "entity-in-attribute": (f'<!DOCTYPE {root} [<!ENTITY a "&#x26;#x3C;">]>', ""),
    }


def splice(document: str, prologue: str, inner: str) -> str:
    """The real document with a DTD prologue before its root and ``inner`` inside its <name>."""
    body = document.split("?>", 1)[1] if document.lstrip().startswith("<?xml") else document
    if inner:
        body = body.replace("<name>", "<name>" + inner, 1)
    return '<?xml version="1.0"?>\n' + prologue + "\n" + body


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


PARSERS: Dict[str, Tuple[str, str, Callable[[str], Any]]] = {
    "domain": (DOMAIN, "domain", parse_domain_xml),
    "nodedev": (NODEDEV, "device", parse_nodedev_xml),
    "network": ("libvirt/networkxml2xmlin_hostdev.xml", "network", parse_network_xml),
}


@pytest.mark.parametrize("which", sorted(PARSERS))
@pytest.mark.parametrize("attack", ["billion-laughs", "quadratic-blowup", "external-entity",
                                    "external-parameter-entity", "external-dtd", "public-dtd", "internal-dtd-only",
                                    "unparsed-entity", "entity-in-attribute"])
def test_dtds_and_entities_are_refused(which: str, attack: str, secret_file: Path) -> None:
    rel, root, parse = PARSERS[which]
    original = corpus_text(rel)
    parse(original)  # the unspliced corpus file parses
    prologue, inner = _entities(root, secret_file)[attack]
    with pytest.raises(ParseError, match="refused unsafe XML") as caught:
        parse(splice(original, prologue, inner))
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("which", sorted(PARSERS))
def test_xinclude_is_never_processed(which: str, secret_file: Path) -> None:
    rel, _root, parse = PARSERS[which]
    include = (f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret_file.as_uri()}" '
               'parse="text"/>')
    hostile = corpus_text(rel).replace("<name>", "<name>" + include, 1)
    try:
        parsed = parse(hostile)
    except ParseError:
        return
    assert SECRET not in repr(parsed)


def _deep(root: str, depth: int) -> str:
    return f"<{root}><name>x</name>" + "<a>" * depth + "</a>" * depth + f"</{root}>"


@pytest.mark.parametrize("which", sorted(PARSERS))
@pytest.mark.parametrize("case", ["deep", "wide-attribute", "many-attributes", "nul", "bad-char-ref", "utf16-decl",
                                  "utf7-decl", "bom", "pi-stylesheet", "cdata-bomb", "not-xml", "empty",
                                  "two-roots", "unclosed"])
def test_broken_documents_are_data_or_parse_errors(which: str, case: str) -> None:
    _rel, root, parse = PARSERS[which]
    documents = {
        "deep": _deep(root, 200_000),
        "wide-attribute": f"<{root} a='{'x' * 5_000_000}'><name>n</name></{root}>",
        "many-attributes": f"<{root} " + " ".join(f"a{i}='1'" for i in range(100_000)) + "/>",
        "nul": f"<{root}><name>a\x00b</name></{root}>",
        "bad-char-ref": f"<{root}><name>&#0;&#x1b;</name></{root}>",
        "utf16-decl": f'<?xml version="1.0" encoding="UTF-16"?><{root}/>',
        "utf7-decl": f'<?xml version="1.0" encoding="UTF-7"?><{root}><name>+ADw-x+AD4-</name></{root}>',
        "bom": f"\ufeff<{root}><name>n</name></{root}>",
        "pi-stylesheet": f'<?xml-stylesheet href="file:///etc/passwd"?><{root}><name>n</name></{root}>',
        "cdata-bomb": f"<{root}><name><![CDATA[{'<' * 1_000_000}]]></name></{root}>",
        "not-xml": "lspci: command not found\n",
        "empty": "",
        "two-roots": f"<{root}/><{root}/>",
        "unclosed": f"<{root}><name>",
    }
    try:
        parse(documents[case])
    except ParseError:
        pass


# -- through the collector: that file's facts unknown, the run goes on ----------------------------

def _evil_domain(secret_file: Path, attack: str) -> str:
    prologue, inner = _entities("domain", secret_file)[attack]
    return splice(corpus_text(DOMAIN), prologue, inner)


def test_hostile_domain_files_become_problems_and_the_good_guest_stays(
        tmp_path: Path, secret_file: Path, cli: Callable[..., Tuple[int, str, str]], private_tmp: Path) -> None:
    root = synth_root(tmp_path / "host")
    defined = root / "etc/libvirt/qemu"
    good = sorted(p.name for p in defined.glob("*.xml"))
    assert good
    (defined / "laughs.xml").write_text(_evil_domain(secret_file, "billion-laughs"))
    (defined / "xxe.xml").write_text(_evil_domain(secret_file, "external-entity"))
    running = root / "run/libvirt/qemu"
    running.mkdir(parents=True)
    (running / "dtd.xml").write_text(_evil_domain(secret_file, "external-dtd"))
    code, out, err = cli("facts", str(root), "-f", "json")
    assert code == 0, err
    facts = json.loads(out)["facts"]
    problems = {p["item"]: p["message"] for p in facts["problems"]}
    for path in ("/etc/libvirt/qemu/laughs.xml", "/etc/libvirt/qemu/xxe.xml", "/run/libvirt/qemu/dtd.xml"):
        assert "refused unsafe XML" in problems[path], problems
    assert [g["name"] for g in facts["guests"]] == [name[:-4] for name in good]
    assert SECRET not in out
    # The check run completes on what is known: exit 0 or 1, never 2; the problems are listed.
    code, out, err = cli("check", str(root), "-f", "json")
    assert code in (0, 1) and err == ""
    report = json.loads(out)
    listed = {p["item"] for p in report["collection_problems"]}
    assert {"/etc/libvirt/qemu/laughs.xml", "/etc/libvirt/qemu/xxe.xml", "/run/libvirt/qemu/dtd.xml"} <= listed
    assert SECRET not in out
    assert os.listdir(private_tmp) == []


def test_hostile_virsh_outputs_become_problems(secret_file: Path) -> None:
    """A snapshot without sysfs (a sosreport) falls back on virsh: nodedev-dumpxml and dumpxml outputs."""
    synth = load_synth()
    plan = synth.plan(synth.HostSpec(pfs=1, vfs_per_pf=2, guests=0))
    lspci = synth.lspci_nnvv(plan)
    nodedev_prologue, nodedev_inner = _entities("device", secret_file)["billion-laughs"]
    bomb_nodedev = splice(corpus_text(NODEDEV), nodedev_prologue, nodedev_inner)
    pf = next(fn for fn in plan.functions if fn.is_pf)
    nodedev_name = "pci_" + pf.bdf.replace(":", "_").replace(".", "_")
    source = DictSource(
        files={"/proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on\n"},
        commands={
            "lspci -vvv -nn -D": lspci,
            f"virsh -r nodedev-dumpxml {nodedev_name}": bomb_nodedev,
            "virsh -r list --all": " Id   Name    State\n-----------------------\n 1    evil    running\n",
            "virsh -r dumpxml evil": _evil_domain(secret_file, "external-entity"),
        })
    facts = collect_facts(source)
    problems = problems_of(facts)
    assert "refused unsafe XML" in problems[f"command: virsh -r nodedev-dumpxml {nodedev_name}"]
    assert "refused unsafe XML" in problems["command: virsh -r dumpxml evil"]
    # lspci still told what it knows about the PF; the guest is not invented from the refused XML.
    assert pf.bdf in {fn.address for fn in facts.pci or ()}
    assert all(g.name != "evil" or not g.devices for g in facts.guests or ())
    assert SECRET not in repr(facts)
