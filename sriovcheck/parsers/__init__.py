"""Pure parsers: text in, frozen data out, or :class:`sriovcheck.errors.ParseError`.

One module per format.  No parser touches the filesystem or runs anything.

=====================  ==========================================================
module                 entry points
=====================  ==========================================================
``lspci``              ``parse_lspci``, ``vf_addresses``
``iplink``             ``parse_ip_link``, ``parse_ip_link_json``, ``parse_vf_line``
``ethtool``            ``parse_ethtool_i``
``uname``              ``parse_uname_a``, ``parse_kernel_release``
``cmdline``            ``parse_cmdline``
``cpuinfo``            ``parse_cpuinfo``
``modinfo``            ``parse_modinfo``
``modprobe``           ``parse_modprobe_conf``, ``split_options``
``lsmod``              ``parse_lsmod``
``libvirt_domain``     ``parse_domain_xml`` (defusedxml)
``libvirt_network``    ``parse_network_xml`` (defusedxml; hostdev network pools)
``nodedev``            ``parse_nodedev_xml`` (defusedxml)
``qemu_argv``          ``parse_qemu_argv``, ``parse_qemu_args_file``,
                       ``split_proc_cmdline``, ``parse_ps``, ``split_keyval``
``dmesg``              ``parse_dmesg_iommu``, ``strip_log_prefix``
``sysfs_values``       ``parse_int``, ``parse_hex_id``, ``parse_class``, ``parse_mac``,
                       ``normalise_bdf``, ``nodedev_name_to_bdf``,
                       ``is_zero_mac``, ``is_valid_unicast_mac``
``persistence``        ``from_udev_rules``, ``from_systemd_unit``, ``from_nm_keyfile``,
                       ``from_ifcfg``, ``from_netplan``, ``from_shell_lines``,
                       ``from_modprobe`` (what recreates VFs at boot)
``_text``              ``strip_transcript_noise``, ``strip_markdown_noise``,
                       ``split_transcript`` (for hand-copied transcripts only)
=====================  ==========================================================

Conventions shared by every parser:

* results are frozen dataclasses holding tuples (and the hashable
  ``FrozenMap`` where a mapping is needed), never lists or dicts;
* a field the input did not show is ``None`` -- unknown, not false;
* text a parser cannot read raises ``ParseError`` with the 1-based line
  number and the line; no other exception escapes for ``str`` input;
* PCI addresses are normalised to ``DDDD:BB:DD.F`` (lower-case hex, domain
  ``0000`` when the tool did not print one), MACs to lower case;
* every regular expression is anchored with bounded repetition and no
  nested quantifiers, so parsing is linear in the input size.
"""
