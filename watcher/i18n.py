"""Every sentence a user reads, in Spanish first and English.

English is used with ``--lang en`` or when the system speaks English
(:mod:`watcher.syslang`: the POSIX locale variables, Windows' UI language,
macOS's preferred languages); Spanish otherwise, the users being Colombian.
"""

from __future__ import annotations

from typing import Any

from watcher.errors import ConfigError, UserError

LANGS = ("es", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # --- check-now ---------------------------------------------------------
    "current.title": ("Enlace vigente para el usuario {user}:", "Link to use for user {user}:"),
    "current.meta": (
        "Llegó {when} ({age}) a la carpeta {folder}.",
        "Arrived {when} ({age}) in folder {folder}.",
    ),
    "current.warn_once": (
        "Ábralo una sola vez: cada nueva solicitud en SECOP invalida este enlace.",
        "Open it once: every new request on SECOP invalidates this link.",
    ),
    "expired.line": (
        "Usuario {user}: el último enlace llegó {when} ({age}) y ya venció "
        "(vigencia {hours} h). Pida uno nuevo en SECOP («Olvidé la contraseña»).",
        "User {user}: the last link arrived {when} ({age}) and has expired "
        '(valid {hours} h). Request a new one on SECOP ("Olvidé la contraseña").',
    ),
    "superseded.line": (
        "Usuario {user}: {count} enlace(s) anterior(es) ya no sirven "
        "(reemplazados por uno más nuevo).",
        "User {user}: {count} older link(s) no longer work (replaced by a newer one).",
    ),
    "unopened.line": (
        "{count} correo(s) más antiguo(s) de {sender} no se alcanzaron a leer: llegaron hace "
        "más de {hours} h y su enlace ya venció (el más reciente: {when}, {age}).",
        "{count} older mail(s) from {sender} were not read: they arrived more than "
        "{hours} h ago and their link has expired (the newest: {when}, {age}).",
    ),
    "error.shared_env_password": (
        "Hay varias cuentas y {variable} es una sola contraseña: se enviaría a todos los "
        "servidores. Quite la variable y dé a cada cuenta su password_command o su entrada "
        "en el llavero, o elija una cuenta con --account NOMBRE.",
        "There are several accounts and {variable} is one password: it would be sent to "
        "every server. Unset it and give each account its password_command or keyring "
        "entry, or pick one account with --account NAME.",
    ),
    "config.account_duplicate": (
        "repite el nombre de otra cuenta (sin distinguir mayúsculas)",
        "repeats another account's name (case-insensitively)",
    ),
    "service.status.account": ("Cuenta «{name}»:", 'Account "{name}":'),
    "accounts.header": (
        "== Cuenta «{name}» ({username}) ==",
        '== Account "{name}" ({username}) ==',
    ),
    "accounts.failed": (
        "✗ No se pudo revisar esta cuenta: {error}",
        "✗ This account could not be checked: {error}",
    ),
    "none": (
        "No hay ningún enlace vigente de SECOP II. Si acaba de pedirlo, espere con "
        "«secop-watcher wait».",
        "No current SECOP II link. If you just requested one, wait for it with "
        '"secop-watcher wait".',
    ),
    "suspicious.line": (
        "⚠ Correo sospechoso en {folder} ({when}) de {sender}: {reasons}. No use su enlace.",
        "⚠ Suspicious mail in {folder} ({when}) from {sender}: {reasons}. Do not use its link.",
    ),
    "checked.folders": ("Carpetas revisadas: {folders}.", "Folders checked: {folders}."),
    "user.unknown": ("(sin nombre)", "(no name)"),
    "sender.unknown": ("remitente desconocido", "unknown sender"),
    "age.minutes": ("hace {n} min", "{n} min ago"),
    "age.hours": ("hace {n} h", "{n} h ago"),
    "age.days": ("hace {n} días", "{n} days ago"),
    "age.future": ("con fecha futura", "dated in the future"),
    # --- notices -----------------------------------------------------------
    "notice.folder_missing": (
        "Aviso: la carpeta configurada «{detail}» no existe en el servidor.",
        'Warning: the configured folder "{detail}" does not exist on the server.',
    ),
    "notice.no_spam_folder": (
        "Aviso: no se encontró carpeta de spam; si su correo tiene una, póngala en [imap] folders.",
        "Warning: no spam folder was found; if your mailbox has one, list it in [imap] folders.",
    ),
    "notice.truncated": (
        "Aviso: un mensaje de {detail} supera 10 MB y se leyó solo en parte.",
        "Warning: a message in {detail} is larger than 10 MB and was read only in part.",
    ),
    # --- reasons a mail is suspicious --------------------------------------
    "reason.sender_mismatch": ("el remitente no es {sender}", "the sender is not {sender}"),
    "reason.multiple_senders": ("tiene varios remitentes", "it has several senders"),
    "reason.not_https": ("el enlace no es https", "the link is not https"),
    "reason.host_not_allowed": (
        "el enlace no lleva a secop.gov.co",
        "the link does not lead to secop.gov.co",
    ),
    "reason.userinfo_in_link": (
        "el enlace esconde otro destino (usuario@ en la dirección)",
        "the link hides another destination (user@ in the address)",
    ),
    "reason.port_in_link": ("el enlace usa un puerto extraño", "the link uses an odd port"),
    "reason.backslash_in_link": (
        "el enlace contiene barras invertidas",
        "the link contains backslashes",
    ),
    "reason.encoded_host": (
        "el servidor del enlace está codificado para engañar",
        "the link's host is encoded to deceive",
    ),
    "reason.mixed_script_host": (
        "el servidor del enlace imita letras latinas (homógrafo)",
        "the link's host imitates Latin letters (homograph)",
    ),
    "reason.mimecast_wrapped": (
        "el enlace está envuelto por Mimecast y no puede comprobarse; ábralo desde su "
        "programa de correo",
        "the link is wrapped by Mimecast and cannot be checked; open it from your mail program",
    ),
    "reason.unwrap_too_deep": (
        "el enlace está envuelto demasiadas veces",
        "the link is wrapped too many times",
    ),
    "reason.malformed_link": ("el enlace está mal formado", "the link is malformed"),
    "reason.no_link": ("no trae enlace", "it carries no link"),
    "reason.auth_failed": (
        "la autenticación del remitente falló (DMARC/DKIM)",
        "the sender's authentication failed (DMARC/DKIM)",
    ),
    "reason.dmarc_other_from": (
        "el servidor de correo verificó otro remitente (DMARC de otro dominio)",
        "the mail server checked another sender (DMARC for another domain)",
    ),
    "reason.auth_unreadable": (
        "el informe de autenticación del servidor está alterado o no se puede leer",
        "the server's authentication report is garbled or cannot be read",
    ),
    "reason.hidden_link": (
        "esconde un enlace de cambio de contraseña que usted no vería",
        "it hides a password-reset link you would not see",
    ),
    "reason.links_disagree": (
        "trae enlaces distintos en distintos lugares del correo",
        "it carries different links in different places of the mail",
    ),
    "reason.several_users": (
        "trae enlaces para más de un usuario de SECOP",
        "it carries links for more than one SECOP user",
    ),
    "reason.link_wrapped": (
        "el enlace está partido en varias líneas y no se sabe dónde termina; ábralo desde su "
        "programa de correo",
        "the link is broken over several lines and where it ends cannot be known; open it "
        "from your mail program",
    ),
    # --- verification --------------------------------------------------------
    "verify.verified": ("Remitente verificado (DMARC).", "Sender verified (DMARC)."),
    "verify.unverified": (
        "Sin verificar: el servidor no informó DMARC/DKIM.",
        "Unverified: the server reported no DMARC/DKIM result.",
    ),
    "notify.unverified": ("Remitente sin verificar.", "Sender unverified."),
    "config.authserv_ids": (
        'debe ser una lista de nombres, p. ej. ["mx.google.com", "microsoft"]',
        'must be a list of names, e.g. ["mx.google.com", "microsoft"]',
    ),
    # --- parse ---------------------------------------------------------------
    "parse.reset": (
        "{file}: restablecimiento para {user}, recibido {when}:\n  {url}",
        "{file}: reset for {user}, received {when}:\n  {url}",
    ),
    "parse.other": (
        "{file}: no es un correo de cambio de contraseña de SECOP.",
        "{file}: not a SECOP password-reset mail.",
    ),
    "parse.suspicious": ("{file}: ⚠ sospechoso: {reasons}.", "{file}: ⚠ suspicious: {reasons}."),
    # --- errors --------------------------------------------------------------
    "error.prefix": ("Error", "Error"),
    "error.internal": (
        "Error interno de secop-watcher ({kind}). Su buzón no fue modificado. Los detalles "
        "están en {log}; por favor repórtelo.",
        "Internal error in secop-watcher ({kind}). Your mailbox was not changed. Details are "
        "in {log}; please report it.",
    ),
    "error.config": (
        "La configuración {path} tiene problemas:\n{problems}\nCorríjala (vea "
        "config/example.toml) o ejecute «secop-watcher setup».",
        "The configuration {path} has problems:\n{problems}\nFix it (see config/example.toml) "
        'or run "secop-watcher setup".',
    ),
    "error.config_missing": (
        "No hay configuración en {path}. Ejecute «secop-watcher setup», o indique el archivo "
        "con --config o SECOP_WATCHER_CONFIG.",
        'No configuration at {path}. Run "secop-watcher setup", or point to the file with '
        "--config or SECOP_WATCHER_CONFIG.",
    ),
    "error.setup_imap_form": (
        "La configuración {path} es de un solo buzón ([imap]). Para agregar otro, cambie "
        "[imap] por [accounts.NOMBRE] (el nombre que quiera) y vuelva a ejecutar setup "
        "--account.",
        "The configuration {path} is for one mailbox ([imap]). To add another, rename [imap] "
        "to [accounts.NAME] (any name) and run setup --account again.",
    ),
    "error.setup_account_exists": (
        "La configuración {path} ya tiene una cuenta con ese nombre: elija otro, o quite esa "
        "sección del archivo primero.",
        "The configuration {path} already has an account by that name: pick another, or "
        "remove that table from the file first.",
    ),
    "error.setup_account_name": (
        "«{name}» no sirve como nombre de cuenta: letras, números, «.», «-» o «_», hasta 40.",
        '"{name}" cannot be an account name: letters, digits, ".", "-" or "_", up to 40.',
    ),
    "error.config_exists": (
        "Ya existe una configuración en {path}. Use --force para reemplazarla.",
        "A configuration already exists at {path}. Use --force to replace it.",
    ),
    "error.no_keyring": (
        "No hay un llavero (keyring) disponible en este equipo para guardar la contraseña de "
        "{username}. Alternativas: ponga en [imap] password_command un programa que la "
        'imprima (p. ej. "pass show correo"), o defina la variable SECOP_WATCHER_PASSWORD.',
        "No keyring is available on this machine to keep the password of {username}. "
        "Alternatives: set [imap] password_command to a program that prints it (e.g. "
        '"pass show mail"), or set the SECOP_WATCHER_PASSWORD environment variable.',
    ),
    "error.keyring_failed": (
        "El llavero (keyring) no respondió al pedir la contraseña de {username}. "
        "Desbloquéelo, o use password_command o SECOP_WATCHER_PASSWORD.",
        "The keyring failed when asked for the password of {username}. Unlock it, or use "
        "password_command or SECOP_WATCHER_PASSWORD.",
    ),
    "error.no_password": (
        "No hay contraseña guardada para {username}. Ejecute «secop-watcher setup», o use "
        "password_command o SECOP_WATCHER_PASSWORD.",
        'No password is stored for {username}. Run "secop-watcher setup", or use '
        "password_command or SECOP_WATCHER_PASSWORD.",
    ),
    "error.empty_password": (
        "La contraseña está vacía; no se intentó iniciar sesión.",
        "The password is empty; no login was attempted.",
    ),
    "error.password_command_syntax": (
        "password_command no se puede leer ({reason}). Revise las comillas.",
        "password_command cannot be read ({reason}). Check its quotes.",
    ),
    "error.password_command_missing": (
        "password_command: no se encontró el programa «{program}».",
        'password_command: program "{program}" not found.',
    ),
    "error.password_command_failed": (
        "password_command («{program}») falló (código {code}) o no imprimió nada. Pruébelo "
        "en una terminal.",
        'password_command ("{program}") failed (code {code}) or printed nothing. Try it in '
        "a terminal.",
    ),
    "error.auth": (
        "El servidor {host} rechazó el usuario {username} o la contraseña. Si usa Gmail o "
        "Yahoo necesita una «contraseña de aplicación». Vuelva a ejecutar «secop-watcher "
        "setup» para guardar la correcta.",
        "The server {host} rejected user {username} or the password. Gmail and Yahoo need an "
        '"app password". Run "secop-watcher setup" again to store the right one.',
    ),
    "error.dns": (
        "No se encuentra el servidor {host}. Revise [imap] host y su conexión a internet.",
        "Cannot find server {host}. Check [imap] host and your internet connection.",
    ),
    "error.refused": (
        "El servidor {host}:{port} rechazó la conexión. Revise [imap] port y security, o "
        "inténtelo más tarde.",
        "Server {host}:{port} refused the connection. Check [imap] port and security, or try "
        "again later.",
    ),
    "error.timeout": (
        "El servidor {host}:{port} no respondió en {seconds} s. Revise su conexión o suba "
        "[imap] timeout_seconds.",
        "Server {host}:{port} did not answer within {seconds} s. Check your connection or "
        "raise [imap] timeout_seconds.",
    ),
    "error.dropped": (
        "El servidor {host} cerró la conexión. Inténtelo de nuevo en un momento.",
        "Server {host} closed the connection. Try again in a moment.",
    ),
    "error.connection": (
        "No se pudo conectar con {host}:{port} ({reason}).",
        "Could not connect to {host}:{port} ({reason}).",
    ),
    "error.tls_verify": (
        "El certificado de {host} no es de confianza ({reason}). Si es un servidor de su "
        "entidad con su propia autoridad certificadora, indique su certificado en [imap] "
        "ca_file. No se envió la contraseña.",
        "The certificate of {host} is not trusted ({reason}). If it is your organisation's "
        "server with its own certificate authority, point [imap] ca_file to its certificate. "
        "The password was not sent.",
    ),
    "error.tls": (
        "La conexión segura con {host}:{port} falló ({reason}). Revise [imap] port y "
        "security (993 = ssl, 143 = starttls).",
        "The secure connection to {host}:{port} failed ({reason}). Check [imap] port and "
        "security (993 = ssl, 143 = starttls).",
    ),
    "error.no_starttls": (
        "El servidor {host}:{port} no ofrece STARTTLS: secop-watcher nunca envía la "
        'contraseña sin cifrar. Use security = "ssl" y el puerto 993.',
        "Server {host}:{port} does not offer STARTTLS: secop-watcher never sends the password "
        'unencrypted. Use security = "ssl" and port 993.',
    ),
    "error.ca_file": (
        "No se pudo leer el certificado de [imap] ca_file ({path}).",
        "Could not read the certificate in [imap] ca_file ({path}).",
    ),
    "error.protocol": (
        "Respuesta inesperada del servidor {host}: {reason}",
        "Unexpected answer from server {host}: {reason}",
    ),
    "error.usage": ("Uso incorrecto: {reason}", "Wrong usage: {reason}"),
    "error.input": ("No se puede leer {path}: {reason}.", "Cannot read {path}: {reason}."),
    "error.microsoft": (
        "Las cuentas de Microsoft (Outlook.com, Hotmail, Microsoft 365) ya no aceptan "
        "contraseñas por IMAP: inicie sesión con Microsoft (OAuth2). Ejecute "
        '«secop-watcher setup» sin --auth, o ponga auth = "oauth2-microsoft" en la '
        "configuración y ejecute «secop-watcher login».",
        "Microsoft accounts (Outlook.com, Hotmail, Microsoft 365) no longer accept passwords "
        'over IMAP: sign in with Microsoft (OAuth2). Run "secop-watcher setup" without --auth, '
        'or set auth = "oauth2-microsoft" in the configuration and run "secop-watcher login".',
    ),
    # --- OAuth2 sign-in ------------------------------------------------------
    "error.oauth_revoked": (
        "{provider} ya no acepta el inicio de sesión guardado para {username} ({reason}: fue "
        "revocado, venció o cambió la contraseña de la cuenta). Inicie sesión de nuevo: {command}",
        "{provider} no longer accepts the saved sign-in for {username} ({reason}: it was "
        "revoked, it expired, or the account's password changed). Sign in again: {command}",
    ),
    "error.oauth_no_token": (
        "No hay un inicio de sesión con {provider} guardado para {username}. Ejecute: {command}",
        "No {provider} sign-in is saved for {username}. Run: {command}",
    ),
    "error.oauth_unreachable": (
        "No se pudo contactar {host}, el servicio de inicio de sesión. Revise su conexión a "
        "internet.",
        "Could not reach {host}, the sign-in service. Check your internet connection.",
    ),
    "error.oauth_tls": (
        "No se pudo verificar el certificado de {host}. Si su red usa un proxy con su propia "
        "CA, indíquela con la variable REQUESTS_CA_BUNDLE.",
        "The certificate of {host} could not be verified. If your network uses a proxy with "
        "its own CA, point the REQUESTS_CA_BUNDLE variable at it.",
    ),
    "error.oauth_provider": (
        "{provider} rechazó la solicitud ({reason}) {detail}. Revise oauth_client_id / "
        "oauth_tenant (Microsoft) o el archivo del cliente (Google); vea el README.",
        "{provider} refused the request ({reason}) {detail}. Check oauth_client_id / "
        "oauth_tenant (Microsoft) or the client file (Google); see the README.",
    ),
    "error.oauth_not_signed_in": (
        "No se completó el inicio de sesión con {provider} ({reason}) {detail}. Inténtelo de "
        "nuevo: {command}",
        "The {provider} sign-in was not completed ({reason}) {detail}. Try again: {command}",
    ),
    "error.oauth_unavailable": (
        "{provider} ({host}) no pudo renovar el acceso ahora ({reason}). Es pasajero: se "
        "intentará de nuevo.",
        "{provider} ({host}) could not renew access just now ({reason}). It should pass: it "
        "will be tried again.",
    ),
    "error.oauth_garbled": (
        "El servicio de inicio de sesión {host} respondió algo que no es OAuth2 (¿un proxy o un "
        "portal de red?). Revise su conexión; se intentará de nuevo.",
        "The sign-in service {host} answered something that is not OAuth2 (a proxy or a "
        "network portal?). Check your connection; it will be tried again.",
    ),
    "error.oauth_authority": (
        "No se pudo obtener la configuración de {authority}. Revise oauth_tenant (el dominio o "
        'GUID de su entidad, o "common") y su conexión (una red con portal de acceso).',
        "Could not get the configuration of {authority}. Check oauth_tenant (your "
        'organisation\'s domain or GUID, or "common") and your connection (a network with a '
        "sign-in portal).",
    ),
    "error.oauth_no_keyring": (
        "No hay un llavero del sistema utilizable para guardar el inicio de sesión de "
        "{username}. En Linux sin escritorio instale y abra gnome-keyring o KWallet (o el "
        "paquete keyrings.alt), y ejecute de nuevo este comando.",
        "There is no usable system keyring to keep {username}'s sign-in. On Linux without a "
        "desktop, install and unlock gnome-keyring or KWallet (or the keyrings.alt package), "
        "then run this command again.",
    ),
    "error.oauth_not_offered": (
        "El servidor {host} no ofrece inicio de sesión OAuth2 (XOAUTH2 ni OAUTHBEARER). Use "
        'auth = "password" para este servidor.',
        "The server {host} offers no OAuth2 sign-in (neither XOAUTH2 nor OAUTHBEARER). Use auth "
        '= "password" for this server.',
    ),
    "error.oauth_refused": (
        "El servidor {host} rechazó el acceso de {username} aun con un token recién renovado. "
        "Revise que username sea la misma cuenta con la que inició sesión y que IMAP esté "
        "habilitado en ella; luego ejecute «secop-watcher login».",
        "The server {host} refused {username} even with a freshly renewed token. Check that "
        "username is the account you signed in with and that IMAP is enabled for it; then run "
        '"secop-watcher login".',
    ),
    "error.login_password_account": (
        "La cuenta {username} inicia sesión con contraseña, no con Microsoft ni Google: use "
        "«secop-watcher setup» para guardar la contraseña.",
        "The account {username} signs in with a password, not with Microsoft or Google: use "
        '"secop-watcher setup" to store the password.',
    ),
    "login.device": (
        "Para iniciar sesión con Microsoft como {username}: abra {url} en cualquier navegador "
        "(también en el celular) y escriba el código {code}. Vence en {minutes} min. Esperando…",
        "To sign in with Microsoft as {username}: open {url} in any browser (a phone works "
        "too) and enter the code {code}. It expires in {minutes} min. Waiting…",
    ),
    "login.browser": (
        "Para iniciar sesión con Google como {username}, abra esta dirección en el navegador "
        "de este equipo si no se abrió sola: {{url}}",
        "To sign in with Google as {username}, open this address in this computer's browser "
        "if it did not open by itself: {{url}}",
    ),
    "login.done": (
        "Sesión iniciada: secop-watcher puede leer el correo de {username}. El permiso quedó "
        "en el llavero del sistema; ninguna contraseña se guardó.",
        "Signed in: secop-watcher can read {username}'s mail. The permission is in the system "
        "keyring; no password was stored.",
    ),
    "doctor.token": (
        "inicio de sesión vigente ({auth}; token de acceso obtenido)",
        "sign-in valid ({auth}; access token obtained)",
    ),
    "error.setup_no_answer": (
        "setup hizo una pregunta pero la entrada estándar está cerrada. Para usarlo desde un "
        "script, dé cada respuesta como opción: --email, --host, --security, --auth, "
        "--password-stdin… (secop-watcher setup --help).",
        "setup asked a question but standard input is closed. To script it, give every "
        "answer as an option: --email, --host, --security, --auth, --password-stdin… "
        "(secop-watcher setup --help).",
    ),
    "setup.google_how": (
        "¿Cómo entrar a Gmail? 1) contraseña de aplicación  2) iniciar sesión con Google "
        "(necesita su propio cliente OAuth, ver README) [1]: ",
        "How to get into Gmail? 1) app password  2) sign in with Google (needs your own OAuth "
        "client, see the README) [1]: ",
    ),
    "setup.google_client_file": (
        "Archivo JSON del cliente OAuth descargado de Google Cloud: ",
        "OAuth client JSON file downloaded from Google Cloud: ",
    ),
    "setup.stored_sign_in": (
        "Inicio de sesión guardado en el llavero del sistema ({backend}); ninguna contraseña "
        "se guardó.",
        "Sign-in saved in the system keyring ({backend}); no password was stored.",
    ),
    "config.auth": ("debe ser uno de: {choices}", "must be one of: {choices}"),
    "config.https_url": (
        'debe ser una dirección https sin ruta, p. ej. "https://login.microsoftonline.com"',
        'must be an https address without a path, e.g. "https://login.microsoftonline.com"',
    ),
    "config.tenant": (
        'debe ser "common", "organizations", "consumers", un dominio o un GUID',
        'must be "common", "organizations", "consumers", a domain or a GUID',
    ),
    "config.oauth_key": (
        'solo sirve con auth = "{auth}"',
        'only applies with auth = "{auth}"',
    ),
    "config.oauth_password": (
        'no se usa con auth = "{auth}" (el acceso viene de «secop-watcher login»): bórrela',
        'is not used with auth = "{auth}" (access comes from "secop-watcher login"): remove it',
    ),
    "config.microsoft_password": (
        'Microsoft ya no acepta contraseñas por IMAP: ponga auth = "oauth2-microsoft" y '
        "ejecute «secop-watcher login»",
        'Microsoft no longer accepts passwords over IMAP: set auth = "oauth2-microsoft" and '
        'run "secop-watcher login"',
    ),
    "config.google_client_missing": (
        'falta: con auth = "oauth2-google" indique el archivo JSON del cliente OAuth '
        "descargado de Google Cloud (ver README)",
        'missing: with auth = "oauth2-google" give the OAuth client JSON file downloaded from '
        "Google Cloud (see the README)",
    ),
    "config.google_client_file": (
        "no es un archivo de cliente OAuth de Google de tipo «aplicación de escritorio» "
        "(descárguelo de nuevo desde Google Cloud, ver README)",
        'is not a Google OAuth client file of type "Desktop app" (download it again from '
        "Google Cloud, see the README)",
    ),
    "error.interrupted": ("Interrumpido.", "Interrupted."),
    # --- doctor ---------------------------------------------------------------
    "doctor.check.config": ("Configuración", "Configuration"),
    "doctor.check.keyring": ("Llavero (keyring)", "Keyring"),
    "doctor.check.password": ("Contraseña", "Password"),
    "doctor.check.sign_in": ("Inicio de sesión OAuth2", "OAuth2 sign-in"),
    "doctor.check.dns": ("DNS", "DNS"),
    "doctor.check.tcp": ("Conexión TCP", "TCP connection"),
    "doctor.check.tls": ("TLS (certificado)", "TLS (certificate)"),
    "doctor.check.login": ("Inicio de sesión IMAP", "IMAP login"),
    "doctor.check.folders": ("Carpetas", "Folders"),
    "doctor.check.idle": ("Avisos al instante (IMAP IDLE)", "Instant push (IMAP IDLE)"),
    "doctor.check.notifications": ("Servidor de notificaciones", "Notification server"),
    "doctor.check.service": ("Servicio de sesión", "Login service"),
    "doctor.check.last_check": ("Última revisión del servicio", "Service's last check"),
    "doctor.password_from": ("disponible (de {source})", "available (from {source})"),
    "doctor.cert": (
        "{security}; certificado de {subject}, emitido por {issuer}, vence el {expires}",
        "{security}; certificate for {subject}, issued by {issuer}, expires {expires}",
    ),
    "doctor.spam": ("spam: {folder} (por {how})", "spam: {folder} (by {how})"),
    "doctor.no_idle": (
        "El servidor no ofrece IDLE: el servicio revisará cada poll_seconds.",
        "The server does not offer IDLE: the service will check every poll_seconds.",
    ),
    # --- doctor: notifications on Windows and macOS (watcher.notify.platforms) ---------
    "doctor.notify.ok.win32": (
        "notificaciones de Windows (WinRT, desktop-notifier)",
        "Windows notifications (WinRT, desktop-notifier)",
    ),
    "doctor.notify.ok.darwin": (
        "Centro de notificaciones de macOS (sin botones: el enlace se ve con "
        "«secop-watcher check-now»)",
        'macOS Notification Center (no buttons: see the link with "secop-watcher check-now")',
    ),
    "doctor.notify.no_winrt": (
        "Faltan los paquetes winrt que desktop-notifier necesita en Windows. Reinstale: "
        "«pipx reinstall secop-watcher».",
        'The winrt packages desktop-notifier needs on Windows are missing. Reinstall: "pipx '
        'reinstall secop-watcher".',
    ),
    "doctor.notify.no_backend": (
        "desktop-notifier no tiene notificaciones para este sistema (¿Windows 10 o posterior?).",
        "desktop-notifier has no notifications for this system (Windows 10 or later?).",
    ),
    "doctor.notify.winrt_failed": (
        "Windows no dejó crear notificaciones. Inicie sesión en el escritorio y vuelva a "
        "probar; si sigue, reinstale: «pipx reinstall secop-watcher».",
        "Windows did not let us create notifications. Sign in to the desktop and try again; "
        'if it persists, reinstall: "pipx reinstall secop-watcher".',
    ),
    "doctor.notify.disabled": (
        "Las notificaciones de secop-watcher están apagadas: actívelas en Configuración → "
        "Sistema → Notificaciones.",
        "Notifications for secop-watcher are turned off: turn them on in Settings → System → "
        "Notifications.",
    ),
    "doctor.notify.no_bundle": (
        "Este Python no es el de python.org (framework): macOS no le deja usar el Centro de "
        "notificaciones. El servicio avisa con osascript (sin botones, y el aviso no se "
        "retira cuando el enlace vence). Instale Python desde python.org y reinstale con "
        "pipx (docs/macos.md).",
        "This Python is not python.org's (framework build): macOS does not let it use the "
        "Notification Center. The service alerts through osascript (no buttons, and the alert "
        "is not withdrawn when the link expires). Install Python from python.org and "
        "reinstall with pipx (docs/macos.md).",
    ),
    "doctor.notify.denied": (
        "macOS no permite notificaciones a Python: actívelas en Ajustes del Sistema → "
        "Notificaciones → Python. Mientras tanto el servicio avisa con osascript (sin botones).",
        "macOS does not allow notifications for Python: turn them on in System Settings → "
        "Notifications → Python. Meanwhile the service alerts through osascript (no buttons).",
    ),
    "doctor.notify.no_osascript": (
        "No hay forma de mostrar notificaciones (ni el Centro de notificaciones ni osascript). "
        "El servicio seguirá funcionando y registrará los enlaces; use [notify] command si "
        "quiere otro aviso.",
        "Notifications cannot be shown (neither the Notification Center nor osascript). The "
        "service still works and logs the links; use [notify] command for another kind of "
        "alert.",
    ),
    "doctor.notify.otherwise": (
        "El servicio seguirá funcionando y registrará los enlaces.",
        "The service still works and logs the links.",
    ),
    # macOS: no buttons (they need a Core Foundation run loop the service does not run).
    "notify.no_buttons": (
        "Para verlo: «secop-watcher check-now».",
        'To see it: "secop-watcher check-now".',
    ),
    "doctor.no_notify": (
        "No hay servidor de notificaciones en esta sesión (¿sin escritorio?). El servicio "
        "seguirá funcionando y registrará los enlaces; use [notify] command si quiere otro aviso.",
        "No notification server in this session (no desktop?). The service still works and "
        "logs the links; use [notify] command for another kind of alert.",
    ),
    "doctor.service_missing": (
        "No está instalado: ejecute «secop-watcher service install».",
        'Not installed: run "secop-watcher service install".',
    ),
    "doctor.service_not_running": (
        "Instalado pero detenido: «systemctl --user start secop-watcher» (Linux) o vuelva a "
        "ejecutar «secop-watcher service install».",
        'Installed but not running: "systemctl --user start secop-watcher" (Linux) or run '
        '"secop-watcher service install" again.',
    ),
    "doctor.never": ("el servicio aún no ha revisado", "the service has not checked yet"),
    # --- run / wait --------------------------------------------------------
    "service.auth_title": (
        "secop-watcher: no puede entrar a su correo",
        "secop-watcher: cannot log in to your mailbox",
    ),
    "wait.progress": (
        "Esperando el correo de SECOP II en {folders} (hasta las {until}; Ctrl-C para salir)…",
        "Waiting for SECOP II's mail in {folders} (until {until}; Ctrl-C to quit)…",
    ),
    "wait.progress_poll": (
        "(el servidor no ofrece IDLE: se revisa cada {seconds} s)",
        "(the server does not offer IDLE: checking every {seconds} s)",
    ),
    "wait.timeout": (
        "No llegó ningún enlace nuevo de SECOP II en {minutes} min. Revise que pidió el correo "
        "para el usuario correcto, o vuelva a intentarlo.",
        "No new SECOP II link arrived within {minutes} min. Check that you requested the mail "
        "for the right user, or try again.",
    ),
    "wait.opened": ("Abierto en su navegador.", "Opened in your browser."),
    "wait.copied": ("Copiado al portapapeles.", "Copied to the clipboard."),
    # --- --open / --copy, check-now's choice, doctor's warnings (issue 14) ----------
    "open.no_display": (
        "No se abrió el navegador: esta sesión no tiene pantalla gráfica (ni DISPLAY ni "
        "WAYLAND_DISPLAY). Abra el enlace de arriba en el navegador de su equipo.",
        "The browser was not opened: this session has no graphical display (neither DISPLAY "
        "nor WAYLAND_DISPLAY). Open the link above in your computer's browser.",
    ),
    "open.no_browser": (
        "No se abrió: no se encontró ningún navegador que funcione en este equipo. Copie el "
        "enlace de arriba en su navegador (o indique uno con la variable BROWSER).",
        "Not opened: no working web browser was found on this computer. Copy the link above "
        "into your browser (or name one in the BROWSER variable).",
    ),
    "copy.no_display": (
        "No se copió: esta sesión no tiene pantalla gráfica (ni DISPLAY ni WAYLAND_DISPLAY), "
        "y el portapapeles es de la sesión gráfica. Seleccione el enlace de arriba y cópielo.",
        "Not copied: this session has no graphical display (neither DISPLAY nor "
        "WAYLAND_DISPLAY), and the clipboard belongs to the graphical session. Select the "
        "link above and copy it.",
    ),
    "copy.no_tool": (
        "No se copió: falta el programa del portapapeles. Instale uno de estos: {install} "
        "(p. ej. «sudo apt install xclip»), o seleccione el enlace de arriba y cópielo.",
        "Not copied: the clipboard program is missing. Install one of: {install} (e.g. "
        '"sudo apt install xclip"), or select the link above and copy it.',
    ),
    "copy.failed": (
        "No se copió: {tool} falló ({reason}). Seleccione el enlace de arriba y cópielo.",
        "Not copied: {tool} failed ({reason}). Select the link above and copy it.",
    ),
    "choose.header": (
        "Hay enlaces vigentes para varios usuarios de SECOP:",
        "There are current links for several SECOP users:",
    ),
    "choose.item": (
        "  {n}) {user}{account}: llegó {when} a la carpeta {folder}",
        "  {n}) {user}{account}: arrived {when} in folder {folder}",
    ),
    "choose.account": (" (cuenta «{name}»)", ' (account "{name}")'),
    "choose.ask": (
        "¿Cuál usar? Escriba el número (Enter: ninguno): ",
        "Which one? Type its number (Enter: none): ",
    ),
    "choose.again": (
        "Escriba un número del 1 al {count}, o solo Enter para ninguno.",
        "Type a number from 1 to {count}, or just Enter for none.",
    ),
    "choose.none": (
        "No se abrió ni se copió ningún enlace.",
        "No link was opened or copied.",
    ),
    "choose.not_a_terminal": (
        "Hay enlaces vigentes para varios usuarios de SECOP ({users}) y no hay una terminal "
        "para preguntar cuál: indíquelo con --user NOMBRE. No se abrió ni se copió nada.",
        "There are current links for several SECOP users ({users}) and no terminal to ask "
        "which one: name it with --user NAME. Nothing was opened or copied.",
    ),
    "choose.unknown_user": (
        "No hay enlace vigente para el usuario «{user}»; los usuarios con enlace vigente "
        "son: {users}. No se abrió ni se copió nada.",
        'There is no current link for user "{user}"; the users with a current link are: '
        "{users}. Nothing was opened or copied.",
    ),
    "choose.user_needs_action": (
        "--user elige qué enlace abrir o copiar: úselo con --open o --copy.",
        "--user picks which link to open or copy: use it with --open or --copy.",
    ),
    "doctor.service_unknown": (
        "Está instalado, pero aquí no se puede preguntar a {manager} si está en marcha (¿sin "
        "sesión de escritorio?). Compruébelo desde su sesión con «secop-watcher service status».",
        "It is installed, but {manager} cannot be asked here whether it runs (no desktop "
        'session?). Check it from your session with "secop-watcher service status".',
    ),
    "doctor.summary.ok": (
        "Resultado: el correo se puede revisar.",
        "Result: mail can be checked.",
    ),
    "doctor.summary.warn": (
        "Resultado: el correo se puede revisar. Las líneas con ⚠ no lo impiden, pero "
        "conviene atenderlas (avisos en el escritorio, servicio de sesión).",
        "Result: mail can be checked. The lines marked ⚠ do not stop it, but deserve a look "
        "(desktop notifications, login service).",
    ),
    "doctor.summary.fail": (
        "Resultado: el correo NO se puede revisar; corrija primero las líneas con ✗.",
        "Result: mail can NOT be checked; fix the lines marked ✗ first.",
    ),
    # --- end of issue 14's block ------------------------------------------------------
    "wait.bad_since": (
        "--since debe ser una hora (HH:MM) o una fecha ISO 8601, no «{value}».",
        '--since must be a time (HH:MM) or an ISO 8601 date, not "{value}".',
    ),
    "run.started": (
        "secop-watcher vigila {folders} ({mode}; revisión cada {seconds} s).",
        "secop-watcher is watching {folders} ({mode}; poll every {seconds} s).",
    ),
    # --- configuration problems ------------------------------------------
    "config.text": ("debe ser un texto entre comillas", "must be a non-empty text in quotes"),
    "config.command_type": (
        'debe ser un comando: una lista como ["C:/Users/ana/bin/programa.exe", "--opcion"] '
        "o un texto",
        'must be a command: a list such as ["C:/Users/ana/bin/program.exe", "--flag"] or a text',
    ),
    "config.command_list": (
        "debe ser una lista de textos, el primero el programa: "
        '["C:/Users/ana/bin/programa.exe", "--opcion"]',
        'must be a list of texts, the program first: ["C:/Users/ana/bin/program.exe", "--flag"]',
    ),
    "config.command_quotes": (
        "no se puede leer (revise las comillas); una lista evita el problema: "
        '["C:/Users/ana/bin/programa.exe", "--opcion"]',
        "cannot be read (check its quotes); a list avoids the problem: "
        '["C:/Users/ana/bin/program.exe", "--flag"]',
    ),
    "config.int_range": (
        "debe ser un número entero de {low} a {high}",
        "must be a whole number from {low} to {high}",
    ),
    "config.bool": ("debe ser true o false", "must be true or false"),
    "config.positive": ("debe ser un número mayor que 0", "must be a number greater than 0"),
    "config.plaintext": (
        'IMAP sin cifrar no está permitido: use "ssl" (puerto 993) o "starttls" (puerto 143)',
        'plaintext IMAP is not allowed: use "ssl" (port 993) or "starttls" (port 143)',
    ),
    "config.security": ('debe ser "ssl" o "starttls"', 'must be "ssl" or "starttls"'),
    "config.folders": (
        'debe ser una lista de carpetas, p. ej. ["INBOX", "Spam"]',
        'must be a list of folder names, e.g. ["INBOX", "Spam"]',
    ),
    "config.address": (
        'debe ser una dirección de correo, p. ej. "registro@secop.gov.co"',
        'must be one e-mail address, e.g. "registro@secop.gov.co"',
    ),
    "config.no_file": ("no existe el archivo {path}", "file not found: {path}"),
    "config.toml": ("no es TOML válido: {reason}", "not valid TOML: {reason}"),
    "config.unreadable": ("no se puede leer: {reason}", "cannot be read: {reason}"),
    "config.unknown_section": ("sección desconocida", "unknown section"),
    "config.not_table": (
        "debe ser una sección, escrita [{section}]",
        "must be a table, written [{section}]",
    ),
    "config.missing": ("falta (es obligatoria)", "missing (required)"),
    "config.both_forms": (
        "use [imap] para un solo buzón o [accounts.NOMBRE] para varios, no los dos",
        "use [imap] for one mailbox or [accounts.NAME] for several, not both",
    ),
    "config.accounts": (
        "debe tener al menos una cuenta, escrita [accounts.NOMBRE] con las claves de [imap]",
        "must hold at least one account, written [accounts.NAME] with the keys of [imap]",
    ),
    "config.account_name": (
        "nombre de cuenta inválido: letras, números, «.», «-» o «_», hasta 40",
        'invalid account name: letters, digits, ".", "-" or "_", up to 40',
    ),
    "config.unknown_account": (
        "no hay una cuenta con ese nombre; las cuentas son: {names}",
        "there is no account by that name; the accounts are: {names}",
    ),
    "config.unknown_key": ("clave desconocida", "unknown key"),
    "config.suggestion": ("¿quiso decir «{suggestion}»?", 'did you mean "{suggestion}"?'),
    "config.password": (
        "las contraseñas no van en el archivo de configuración: bórrela y use el llavero "
        "(secop-watcher setup), password_command o SECOP_WATCHER_PASSWORD",
        "passwords do not belong in the config file: remove it and use the keyring "
        "(secop-watcher setup), password_command or SECOP_WATCHER_PASSWORD",
    ),
    # --- setup ---------------------------------------------------------------
    "setup.trying": (
        "Probando el inicio de sesión en {host}:{port}…",
        "Trying to log in to {host}:{port}…",
    ),
    "setup.login_ok": ("Inicio de sesión correcto.", "Login succeeded."),
    "setup.spam_found": (
        "Carpeta de spam: {folder} (reconocida por {how}).",
        "Spam folder: {folder} (recognised by {how}).",
    ),
    "setup.spam_missing": (
        "No se encontró carpeta de spam: solo se revisará {inbox}. Si tiene una, añádala en "
        "[imap] folders.",
        "No spam folder found: only {inbox} will be checked. If you have one, add it to "
        "[imap] folders.",
    ),
    "setup.how.special-use": ("su atributo \\Junk", "its \\Junk attribute"),
    "setup.how.name": ("su nombre", "its name"),
    "setup.how.configured": ("la configuración", "the configuration"),
    "setup.stored": (
        "Contraseña guardada en el llavero del sistema ({backend}).",
        "Password stored in the system keyring ({backend}).",
    ),
    "setup.written": ("Configuración escrita en {path}.", "Configuration written to {path}."),
    "setup.next": (
        "Listo. Pruebe ahora: secop-watcher check-now",
        "Done. Try it now: secop-watcher check-now",
    ),
    # --- setup: the wizard (watcher/setupwizard.py) and discovery (watcher/discover.py) ---
    "setup.welcome": (
        "Vamos a configurar secop-watcher para que revise su correo. Solo necesita su correo "
        "electrónico y su contraseña.",
        "Let us set up secop-watcher to check your mail. All you need is your e-mail "
        "address and its password.",
    ),
    "setup.ask.email": (
        "Su correo electrónico (p. ej. ana.gomez@entidad.gov.co): ",
        "Your e-mail address (e.g. ana.gomez@entidad.gov.co): ",
    ),
    "setup.again": ("{reason} Inténtelo de nuevo.", "{reason} Please try again."),
    "setup.why.empty": ("No escribió nada.", "Nothing was typed."),
    "setup.why.address_space": (
        "El correo no lleva espacios.",
        "An e-mail address has no spaces.",
    ),
    "setup.why.address_at": (
        "El correo lleva una sola @, como en ana.gomez@entidad.gov.co.",
        "An e-mail address has exactly one @, as in ana.gomez@entidad.gov.co.",
    ),
    "setup.why.address_domain": (
        "Después de la @ va el dominio completo, como entidad.gov.co.",
        "After the @ comes the whole domain, such as entidad.gov.co.",
    ),
    "setup.why.host_form": (
        "Escriba solo el nombre del servidor, sin https:// ni espacios, como "
        "correo.entidad.gov.co.",
        "Type only the server's name, without https:// or spaces, such as mail.entidad.gov.co.",
    ),
    "setup.why.port": (
        "El puerto es un número del 1 al 65535 (casi siempre 993).",
        "The port is a number from 1 to 65535 (almost always 993).",
    ),
    "setup.why.menu": ("Escriba solo el número de una opción.", "Type only an option's number."),
    "setup.why.username_space": ("El usuario no lleva espacios.", "A user name has no spaces."),
    "setup.why.no_file": (
        "No se encontró ese archivo (puede arrastrarlo a esta ventana).",
        "That file was not found (you may drag it onto this window).",
    ),
    "setup.why.empty_password": (
        "La contraseña está vacía.",
        "The password is empty.",
    ),
    "setup.bad_email_option": ("--email: {reason}", "--email: {reason}"),
    "setup.provider.gmail": ("Gmail / Google", "Gmail / Google"),
    "setup.provider.microsoft": (
        "Outlook, Hotmail o Microsoft 365",
        "Outlook, Hotmail or Microsoft 365",
    ),
    "setup.provider.yahoo": ("Yahoo", "Yahoo"),
    "setup.searching": (
        "Buscando cómo conectarse al correo de {domain} (unos segundos)…",
        "Looking for how to reach the mail of {domain} (a few seconds)…",
    ),
    "setup.found.domain": ("Su correo es de {name}.", "Your mail is with {name}."),
    "setup.found.autoconfig": (
        "Su entidad publica los datos de su correo: el servidor es {host}.",
        "Your organisation publishes its mail settings: the server is {host}.",
    ),
    "setup.found.mx": (
        "El correo de su entidad está en {name}.",
        "Your organisation's mail is with {name}.",
    ),
    "setup.found.guess": (
        "Se encontró el servidor de correo de su entidad: {host}.",
        "Your organisation's mail server was found: {host}.",
    ),
    "setup.not_found": (
        "No se pudo averiguar solo dónde está su correo. Una pregunta más:",
        "Where your mail is could not be found out automatically. One more question:",
    ),
    "setup.not_found_scripted": (
        "No se encontró el servidor de correo de {domain}. Indíquelo con --host (y, si no es "
        "el 993 con conexión cifrada, --port y --security).",
        "The mail server of {domain} was not found. Give it with --host (and, unless it is "
        "993 with an encrypted connection, --port and --security).",
    ),
    "setup.ask.kind": (
        "¿Quién le da el correo?\n  1) Gmail / Google\n  2) Outlook, Hotmail o Microsoft 365\n"
        "  3) Yahoo\n  4) Otro: el de su entidad\nEscriba el número: ",
        "Who provides your mail?\n  1) Gmail / Google\n  2) Outlook, Hotmail or Microsoft 365\n"
        "  3) Yahoo\n  4) Another: your organisation's own\nType the number: ",
    ),
    "setup.ask.host": (
        "Nombre del servidor de correo de su entidad (el que recibe el correo, p. ej. "
        "correo.entidad.gov.co; si no lo sabe, pregúntele al área de sistemas de su entidad)"
        " {current}: ",
        "Name of your organisation's mail server (the one that receives mail, e.g. "
        "mail.entidad.gov.co; if you do not know it, ask your IT department) {current}: ",
    ),
    "setup.probing": ("Probando {host}…", "Trying {host}…"),
    "setup.probe_ok.ssl": (
        "{host} responde con conexión cifrada (puerto {port}).",
        "{host} answers with an encrypted connection (port {port}).",
    ),
    "setup.probe_ok.starttls": (
        "{host} responde en el puerto {port} y cifra la conexión después de conectar (STARTTLS).",
        "{host} answers on port {port} and encrypts the connection after connecting (STARTTLS).",
    ),
    "setup.probe_failed": (
        "{host} no respondió en los puertos de siempre (993 y 143). Dos datos más; si no "
        "los sabe, pregúntele al área de sistemas de su entidad.",
        "{host} did not answer on the usual ports (993 and 143). Two more details; if you "
        "do not know them, ask your IT department.",
    ),
    "setup.ask.security": (
        "¿Cómo se cifra la conexión? (la contraseña nunca viaja sin cifrar)\n"
        "  1) desde el primer momento: lo más común (SSL/TLS, puerto 993)\n"
        "  2) después de conectar (STARTTLS, puerto 143)\nEscriba el número [1]: ",
        "How is the connection encrypted? (the password never travels unencrypted)\n"
        "  1) from the first moment: the most common (SSL/TLS, port 993)\n"
        "  2) after connecting (STARTTLS, port 143)\nType the number [1]: ",
    ),
    "setup.ask.port": (
        "Número de puerto del servidor [{default}]: ",
        "Server port number [{default}]: ",
    ),
    "setup.app_password": (
        "{name} exige una «contraseña de aplicación», no la de siempre (requiere la "
        "verificación en dos pasos); créela aquí: {url}",
        '{name} requires an "app password", not your usual one (needs 2-step '
        "verification); create it here: {url}",
    ),
    "setup.microsoft_sign_in": (
        "Con Microsoft no se escribe la contraseña aquí: usted entrará en la página de "
        "Microsoft y secop-watcher solo recibe un permiso para leer el correo.",
        "With Microsoft you do not type your password here: you sign in on Microsoft's page "
        "and secop-watcher only gets a permission to read mail.",
    ),
    "setup.ask.password": (
        "Contraseña de su correo (no se ve mientras la escribe): ",
        "Your mail password (not shown while you type): ",
    ),
    "setup.ask.username": (
        "Usuario con el que entra a su correo (a veces es solo la parte antes de la @): ",
        "The user name you sign in to your mail with (sometimes only the part before the @): ",
    ),
    "setup.ask.ca_file": (
        "Ruta del archivo del certificado (.pem, .crt o .cer): ",
        "Path of the certificate file (.pem, .crt or .cer): ",
    ),
    "setup.fail.auth": (
        "El servidor {host} no aceptó el usuario {username} con esa contraseña.",
        "The server {host} did not accept the user {username} with that password.",
    ),
    "setup.menu.auth": (
        "¿Qué quiere hacer?\n  1) escribir la contraseña otra vez\n  2) cambiar el usuario "
        "(ahora: {username}) y la contraseña\n  3) salir sin guardar nada\nEscriba el número: ",
        "What would you like to do?\n  1) type the password again\n  2) change the user name "
        "(now: {username}) and the password\n  3) quit without saving\nType the number: ",
    ),
    "setup.fail.certificate": (
        "El servidor {host} presentó un certificado que este equipo no reconoce ({reason}); "
        "la contraseña no se envió. Si su entidad usa su propio certificado, pídale el "
        "archivo al área de sistemas de su entidad.",
        "The server {host} showed a certificate this computer does not recognise ({reason}); "
        "the password was not sent. If your organisation uses its own certificate, ask your "
        "IT department for the file.",
    ),
    "setup.menu.certificate": (
        "¿Qué quiere hacer?\n  1) indicar el archivo del certificado\n  2) cambiar el "
        "servidor\n  3) salir sin guardar nada\nEscriba el número: ",
        "What would you like to do?\n  1) give the certificate file\n  2) change the "
        "server\n  3) quit without saving\nType the number: ",
    ),
    "setup.fail.dns": (
        "No se encontró el servidor {host}: revise cómo está escrito y que este equipo tenga "
        "internet.",
        "The server {host} was not found: check its spelling and that this computer is online.",
    ),
    "setup.fail.unreachable": (
        "No se pudo conectar con {host} por el puerto {port}: quizás el puerto no es ese, o "
        "la red de su entidad no deja salir a ese servidor.",
        "Could not connect to {host} on port {port}: maybe that is not the port, or your "
        "organisation's network does not let you reach that server.",
    ),
    "setup.fail.tls": (
        "{host} respondió en el puerto {port}, pero no con la conexión cifrada elegida: el "
        "puerto o la forma de cifrar no son los de su servidor.",
        "{host} answered on port {port}, but not with the chosen encrypted connection: the "
        "port or the kind of encryption is not your server's.",
    ),
    "setup.menu.connection": (
        "¿Qué quiere hacer?\n  1) cambiar el servidor, el puerto o la forma de cifrar\n"
        "  2) intentar otra vez igual\n  3) salir sin guardar nada\nEscriba el número: ",
        "What would you like to do?\n  1) change the server, the port or the encryption\n"
        "  2) try again as it is\n  3) quit without saving\nType the number: ",
    ),
    "setup.gave_up": (
        "No se guardó nada. Cuando tenga el dato, vuelva a ejecutar «secop-watcher setup».",
        'Nothing was saved. When you have the details, run "secop-watcher setup" again.',
    ),
    "setup.scripted.dns": (
        "No se encontró el servidor {host}. Revise --host y la conexión a internet.",
        "The server {host} was not found. Check --host and the internet connection.",
    ),
    "setup.scripted.unreachable": (
        "No se pudo conectar con {host}:{port}. Revise --host, --port y --security.",
        "Could not connect to {host}:{port}. Check --host, --port and --security.",
    ),
    "setup.scripted.tls": (
        "La conexión cifrada con {host}:{port} falló ({reason}). Revise --port y --security "
        "(993 = ssl, 143 = starttls).",
        "The encrypted connection to {host}:{port} failed ({reason}). Check --port and "
        "--security (993 = ssl, 143 = starttls).",
    ),
    "setup.scripted.certificate": (
        "El certificado de {host} no es de confianza ({reason}); no se envió la contraseña. "
        "Si su entidad tiene su propia autoridad certificadora, indíquela con --ca-file.",
        "The certificate of {host} is not trusted ({reason}); the password was not sent. If "
        "your organisation has its own certificate authority, give it with --ca-file.",
    ),
    "setup.error_accounts_form": (
        "La configuración {path} tiene varias cuentas ([accounts.NOMBRE]): diga cuál cambiar "
        "con --account NOMBRE.",
        "The configuration {path} has several accounts ([accounts.NAME]): say which one to "
        "change with --account NAME.",
    ),
    "setup.backup": (
        "La configuración anterior no se podía leer; quedó guardada en {path}.",
        "The previous configuration could not be read; it was kept in {path}.",
    ),
    # --- notifications ---------------------------------------------------
    "notify.link.title": ("SECOP II: enlace para {user}", "SECOP II: link for {user}"),
    "notify.link.body": (
        "Llegó a las {when} a la carpeta {folder}. Úselo una sola vez; vence a las {until}.",
        "Arrived at {when} in folder {folder}. Use it once; it expires at {until}.",
    ),
    "notify.at": ("{time} del {date}", "{time} on {date}"),
    "notify.when_unknown": ("hora desconocida", "unknown time"),
    "notify.account": ("Buzón «{name}».", 'Mailbox "{name}".'),
    "notify.open": ("Abrir enlace", "Open link"),
    "notify.copy": ("Copiar enlace", "Copy link"),
    "notify.warn.title": ("⚠ SECOP II: correo sospechoso", "⚠ SECOP II: suspicious mail"),
    "notify.warn.body": (
        "En la carpeta {folder} ({when}), de {sender}: {reasons}. No abra su enlace ni responda.",
        "In folder {folder} ({when}), from {sender}: {reasons}. Do not open its link or reply.",
    ),
    "notify.copy_failed.title": (
        "SECOP II: no se pudo copiar el enlace",
        "SECOP II: could not copy the link",
    ),
    "notify.copy_failed.body": (
        "Instale wl-clipboard, xclip o xsel, o use «Abrir enlace».",
        'Install wl-clipboard, xclip or xsel, or use "Open link".',
    ),
    # --- service -------------------------------------------------------------
    "service.installed": (
        "Servicio instalado y en marcha: {path}\nSe iniciará solo cada vez que inicie sesión. "
        "Compruébelo con «secop-watcher service status».",
        "Service installed and running: {path}\nIt starts by itself every time you log in. "
        'Check it with "secop-watcher service status".',
    ),
    "service.installed_inactive": (
        "Archivo del servicio escrito en {path}, pero no se pudo activar: {reason}.\n"
        "Actívelo desde su sesión de usuario con:\n  {command}",
        "Service file written to {path}, but it could not be activated: {reason}.\n"
        "Activate it from your user session with:\n  {command}",
    ),
    "service.installed_enabled": (
        "Archivo del servicio escrito en {path} y activado para su próximo inicio de sesión, "
        "pero no se pudo iniciar ahora: {reason}.\nPara iniciarlo ya, desde su sesión de "
        "usuario ejecute:\n  {command}",
        "Service file written to {path} and enabled for your next login, but it could not be "
        "started now: {reason}.\nTo start it right away, run from your user session:\n"
        "  {command}",
    ),
    "service.uninstalled": (
        "Servicio detenido y desinstalado; se borró {path}.",
        "Service stopped and uninstalled; {path} was removed.",
    ),
    "service.uninstalled_note": (
        "Se borró {path}, pero no se pudo detener el servicio: {reason}.\n"
        "Si sigue en marcha, deténgalo con:\n  {command}",
        "{path} was removed, but the service could not be stopped: {reason}.\n"
        "If it is still running, stop it with:\n  {command}",
    ),
    "service.not_installed": (
        "El servicio no estaba instalado ({path} no existe). Nada que hacer.",
        "The service was not installed ({path} does not exist). Nothing to do.",
    ),
    "service.no_program": (
        "no se encontró el programa «{program}»",
        'program "{program}" not found',
    ),
    "service.failed": ("«{command}» falló: {detail}", '"{command}" failed: {detail}'),
    "service.timeout": (
        "«{command}» no respondió en {seconds} s",
        '"{command}" did not answer within {seconds} s',
    ),
    "service.status.installed": ("Servicio: instalado ({path})", "Service: installed ({path})"),
    "service.status.not_installed": (
        "Servicio: no instalado (iría en {path}). Instálelo con «secop-watcher service install».",
        'Service: not installed (it would go to {path}). Install it with "secop-watcher '
        'service install".',
    ),
    "service.status.active": ("Estado: en ejecución", "State: running"),
    "service.status.inactive": ("Estado: detenido", "State: not running"),
    "service.status.unknown": (
        "Estado: desconocido ({manager} no se puede usar aquí)",
        "State: unknown ({manager} cannot be used here)",
    ),
    "service.status.last_success": (
        "Última revisión correcta: {when} ({age})",
        "Last successful check: {when} ({age})",
    ),
    "service.status.never": (
        "Última revisión correcta: ninguna todavía",
        "Last successful check: none yet",
    ),
    "service.status.last_error": (
        "Último error: {when} ({age}): {message}",
        "Last error: {when} ({age}): {message}",
    ),
    "service.status.no_error": ("Último error: ninguno", "Last error: none"),
    "error.service_no_config": (
        "Todavía no hay configuración ({path} no existe), así que el servicio no tendría qué "
        "vigilar. Ejecute primero «secop-watcher setup», o indique el archivo con --config.",
        "There is no configuration yet ({path} does not exist), so the service would have "
        'nothing to watch. Run "secop-watcher setup" first, or name the file with --config.',
    ),
    "error.service_platform": (
        "secop-watcher no sabe instalar un servicio en este sistema ({platform}). Ejecute "
        "«secop-watcher run» con el programador de tareas de su sistema.",
        "secop-watcher cannot install a service on this system ({platform}). Run "
        '"secop-watcher run" from your system\'s own scheduler.',
    ),
    "error.service_value": (
        "La ruta «{value}» contiene un carácter de control que el archivo del servicio no "
        "puede guardar. Use una ruta sin él.",
        'The path "{value}" contains a control character the service file cannot hold. Use '
        "a path without it.",
    ),
}


def pick(explicit: str | None = None) -> str:
    """``--lang`` if given, else Spanish unless the system speaks English (watcher.syslang)."""
    from watcher import syslang

    if explicit in LANGS:
        return explicit
    return syslang.language(None, syslang.system_language())


def t(key: str, lang: str, **params: Any) -> str:
    es, en = MESSAGES[key]
    text = es if lang == "es" else en
    return text.format(**params) if params else text


def has(key: str) -> bool:
    return key in MESSAGES


def error_text(e: UserError, lang: str) -> str:
    params = dict(e.params)
    if isinstance(e, ConfigError):
        params["problems"] = "\n".join(_problem_line(p, lang) for p in e.problems)
    return t(e.key, lang, **params) if has(e.key) else e.key


def _problem_line(problem: tuple[str, str, dict[str, object]], lang: str) -> str:
    where, key, params = problem
    text = t(key, lang, **params)
    suggestion = params.get("suggestion")
    if suggestion:
        text += " (" + t("config.suggestion", lang, suggestion=suggestion) + ")"
    return f"  - {where}: {text}" if where else f"  - {text}"
