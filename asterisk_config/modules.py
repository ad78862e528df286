"""The Asterisk modules the hotline loads (modules.conf has autoload = no): only what it uses, so that
nothing else is exposed (Ziyang art. 10: level-3 protection) and no module logs errors for missing config."""

from __future__ import annotations

# dialplan application → the module that provides it
APP_MODULES: dict[str, str] = {
    "Answer": "pbx", "Hangup": "pbx", "NoOp": "pbx", "Set": "pbx", "Goto": "pbx", "GotoIf": "pbx",
    "Wait": "pbx", "Playback": "app_playback.so", "Dial": "app_dial.so", "Queue": "app_queue.so",
    "ConfBridge": "app_confbridge.so", "AGI": "res_agi.so", "MixMonitor": "app_mixmonitor.so",
    "SendDTMF": "app_senddtmf.so",
}
# dialplan functions → module
FUNCTION_MODULES: dict[str, str] = {
    "CHANNEL": "func_channel.so", "IF": "func_logic.so", "CALLERID": "func_callerid.so",
    "DEVICE_STATE": "func_devstate.so", "QUEUE_MEMBER": "app_queue.so",
}

LOADS: tuple[str, ...] = (
    # dialplan, applications and functions
    "pbx_config.so", "app_dial.so", "app_queue.so", "app_confbridge.so", "app_playback.so",
    "app_mixmonitor.so", "app_senddtmf.so", "app_verbose.so", "res_agi.so", "res_speech.so",
    "func_channel.so", "func_logic.so", "func_callerid.so", "func_strings.so", "func_devstate.so",
    # bridges and features (transfers, three-way rooms)
    "bridge_simple.so", "bridge_native_rtp.so", "bridge_softmix.so", "bridge_holding.so",
    "bridge_builtin_features.so", "chan_bridge_media.so", "res_musiconhold.so",
    # media
    "res_rtp_asterisk.so", "res_srtp.so", "res_timing_timerfd.so", "codec_ulaw.so", "codec_alaw.so",
    "format_wav.so", "format_pcm.so", "format_sln.so", "res_format_attr_opus.so",
    # PJSIP: seats, the carrier trunk, the emergency gateway, WebRTC over WSS
    "res_sorcery_config.so", "res_sorcery_memory.so", "res_sorcery_astdb.so", "res_pjproject.so",
    "res_pjsip.so", "res_pjsip_session.so", "chan_pjsip.so", "res_pjsip_sdp_rtp.so",
    "res_pjsip_authenticator_digest.so", "res_pjsip_outbound_authenticator_digest.so",
    "res_pjsip_endpoint_identifier_ip.so", "res_pjsip_endpoint_identifier_user.so", "res_pjsip_registrar.so",
    "res_pjsip_caller_id.so", "res_pjsip_dtmf_info.so", "res_pjsip_rfc3326.so", "res_pjsip_nat.so",
    "res_pjsip_refer.so", "res_pjsip_pubsub.so", "res_pjsip_acl.so", "res_pjsip_dlg_options.so",
    "res_pjsip_header_funcs.so", "res_pjsip_diversion.so", "res_pjsip_logger.so",
    "res_http_websocket.so", "res_pjsip_transport_websocket.so",
    # the security log (authentication events) for level-3 protection
    "res_security_log.so",
)
