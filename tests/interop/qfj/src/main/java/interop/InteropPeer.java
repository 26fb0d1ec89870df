package interop;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import quickfix.Application;
import quickfix.Connector;
import quickfix.DefaultMessageFactory;
import quickfix.FieldNotFound;
import quickfix.FileLogFactory;
import quickfix.FileStoreFactory;
import quickfix.Message;
import quickfix.Session;
import quickfix.SessionID;
import quickfix.SessionSettings;
import quickfix.SocketAcceptor;
import quickfix.SocketInitiator;
import quickfix.field.TransactTime;

/**
 * A QuickFIX/J acceptor or initiator for the interoperability tests.
 *
 * <pre>java -cp ... interop.InteropPeer SETTINGS.cfg</pre>
 *
 * ConnectionType in the settings chooses the role.  As an acceptor it
 * answers every NewOrderSingle with one ExecutionReport (ExecType/OrdStatus
 * new, same ClOrdID); as an initiator it sends orders when told to.
 *
 * It reads commands on standard input, one per line, addressed to a session
 * by its BeginString (one session per BeginString):
 * <ul>
 * <li>{@code send BEGIN COUNT PREFIX}: send COUNT NewOrderSingle with
 * ClOrdID PREFIX-0 .. PREFIX-(COUNT-1) (stored and numbered even while not
 * logged on, as QuickFIX/J does);</li>
 * <li>{@code seq BEGIN}: print the session's next sender and target sequence
 * numbers;</li>
 * <li>{@code logout BEGIN}: log the session out (an initiator then stays
 * logged out until {@code logon BEGIN});</li>
 * <li>{@code quit} or end of input: stop the connector (logging out) and
 * exit.</li>
 * </ul>
 * It writes one line per event to standard output, flushed at once:
 * {@code READY}, {@code LOGON BEGIN}, {@code LOGOUT BEGIN},
 * {@code ORDER BEGIN CLORDID POSSDUP}, {@code ER BEGIN CLORDID POSSDUP},
 * {@code SENT BEGIN COUNT}, {@code SEQ BEGIN NEXTSENDER NEXTTARGET},
 * {@code REJECT BEGIN MSGTYPE TEXT} (a Reject or BusinessMessageReject
 * received), {@code STOPPED}.
 */
public final class InteropPeer implements Application {
    private final PrintStream out;
    private final AtomicLong ids = new AtomicLong();
    /** ExecIDs stay unique across restarts of the peer. */
    private final String run = Long.toString(System.currentTimeMillis(), 36);
    private final Map<String, SessionID> sessions = new HashMap<>();

    InteropPeer(PrintStream out) {
        this.out = out;
    }

    private synchronized void say(String line) {
        out.println(line);
        out.flush();
    }

    private static String begin(SessionID id) {
        return id.getBeginString();
    }

    private static String flag(Message m) throws FieldNotFound {
        return m.getHeader().isSetField(43) && m.getHeader().getBoolean(43) ? "Y" : "N";
    }

    @Override
    public void onCreate(SessionID id) {
        synchronized (sessions) {
            sessions.put(id.getBeginString(), id);
        }
    }

    @Override
    public void onLogon(SessionID id) {
        say("LOGON " + begin(id));
    }

    @Override
    public void onLogout(SessionID id) {
        say("LOGOUT " + begin(id));
    }

    @Override
    public void toAdmin(Message m, SessionID id) {
    }

    @Override
    public void fromAdmin(Message m, SessionID id) throws FieldNotFound {
        String type = m.getHeader().getString(35);
        if (type.equals("3")) {
            say("REJECT " + begin(id) + " 3 " + (m.isSetField(58) ? m.getString(58) : ""));
        }
    }

    @Override
    public void toApp(Message m, SessionID id) {
    }

    @Override
    public void fromApp(Message m, SessionID id) throws FieldNotFound {
        String type = m.getHeader().getString(35);
        switch (type) {
            case "D":
                say("ORDER " + begin(id) + " " + m.getString(11) + " " + flag(m));
                answer(m, id);
                break;
            case "8":
                say("ER " + begin(id) + " " + m.getString(11) + " " + flag(m));
                break;
            case "j":
                say("REJECT " + begin(id) + " j " + (m.isSetField(58) ? m.getString(58) : ""));
                break;
            default:
                say("APP " + begin(id) + " " + type);
        }
    }

    private void answer(Message order, SessionID id) throws FieldNotFound {
        long n = ids.incrementAndGet();
        Message er = new Message();
        er.getHeader().setString(35, "8");
        er.setString(37, "O" + run + "-" + n);
        er.setString(17, "E" + run + "-" + n);
        if (id.getBeginString().equals("FIX.4.2")) {
            er.setString(20, "0");
        }
        er.setString(150, "0");
        er.setString(39, "0");
        er.setString(11, order.getString(11));
        er.setString(55, order.getString(55));
        er.setString(54, order.getString(54));
        String qty = order.isSetField(38) ? order.getString(38) : "0";
        er.setString(38, qty);
        er.setString(151, qty);
        er.setString(14, "0");
        er.setString(6, "0");
        send(er, id);
    }

    private static void send(Message m, SessionID id) {
        Session session = Session.lookupSession(id);
        if (session != null) {
            session.send(m);
        }
    }

    private static Message order(String clOrdId) {
        Message m = new Message();
        m.getHeader().setString(35, "D");
        m.setString(11, clOrdId);
        m.setString(21, "1");
        m.setString(55, "EUR/USD");
        m.setString(54, "1");
        m.setField(new TransactTime(LocalDateTime.now(ZoneOffset.UTC)));
        m.setString(38, "100");
        m.setString(40, "2");
        m.setString(44, "10.5");
        return m;
    }

    private SessionID session(String beginString) {
        synchronized (sessions) {
            SessionID id = sessions.get(beginString);
            if (id == null) {
                throw new IllegalArgumentException("no session for " + beginString);
            }
            return id;
        }
    }

    private void command(String line) throws Exception {
        String[] w = line.trim().split("\\s+");
        switch (w[0]) {
            case "send": {
                SessionID id = session(w[1]);
                int count = Integer.parseInt(w[2]);
                for (int i = 0; i < count; i++) {
                    send(order(w[3] + "-" + i), id);
                }
                say("SENT " + w[1] + " " + count);
                break;
            }
            case "seq": {
                Session s = Session.lookupSession(session(w[1]));
                say("SEQ " + w[1] + " " + s.getStore().getNextSenderMsgSeqNum() + " "
                        + s.getStore().getNextTargetMsgSeqNum());
                break;
            }
            case "logout":
                Session.lookupSession(session(w[1])).logout("bye");
                break;
            case "logon":
                Session.lookupSession(session(w[1])).logon();
                break;
            default:
                say("ERROR unknown command " + w[0]);
        }
    }

    public static void main(String[] args) throws Exception {
        SessionSettings settings = new SessionSettings(args[0]);
        InteropPeer app = new InteropPeer(System.out);
        FileStoreFactory stores = new FileStoreFactory(settings);
        FileLogFactory logs = new FileLogFactory(settings);
        DefaultMessageFactory messages = new DefaultMessageFactory();
        String type = settings.getString("ConnectionType");
        Connector connector = type.equals("initiator")
                ? new SocketInitiator(app, stores, settings, logs, messages)
                : new SocketAcceptor(app, stores, settings, logs, messages);
        connector.start();
        app.say("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.trim().equals("quit")) {
            if (line.isBlank()) {
                continue;
            }
            try {
                app.command(line);
            } catch (Exception e) {
                app.say("ERROR " + e);
            }
        }
        connector.stop();
        app.say("STOPPED");
        System.exit(0);
    }
}
