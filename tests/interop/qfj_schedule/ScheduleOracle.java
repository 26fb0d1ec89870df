// QuickFIX/J's own answer to schedule questions (DefaultSessionSchedule).
//
//   java -cp QFJ_CLASSPATH:. ScheduleOracle SETTINGS.cfg < queries
//
// The settings file has one [SESSION] per schedule (TargetCompID=T<i>).
// Each query line is "in I MILLIS" (isSessionTime at that instant) or
// "same I MILLIS1 MILLIS2" (isSameSession); each answer is a line "1" or "0".
// isSessionTime reads QuickFIX/J's SystemTime, which is pointed at the query's
// instant.

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Calendar;
import java.util.List;

import quickfix.DefaultSessionSchedule;
import quickfix.SessionID;
import quickfix.SessionSettings;
import quickfix.SystemTime;
import quickfix.SystemTimeSource;

public final class ScheduleOracle {
    private static long now;

    public static void main(String[] args) throws Exception {
        SessionSettings settings = new SessionSettings(new FileInputStream(args[0]));
        List<DefaultSessionSchedule> schedules = new ArrayList<>();
        for (int i = 0; ; i++) {
            SessionID id = new SessionID("FIX.4.4", "ORACLE", "T" + i);
            if (!settings.isSetting(id, "TargetCompID")) {
                break;
            }
            schedules.add(new DefaultSessionSchedule(settings, id));
        }
        SystemTime.setTimeSource(new SystemTimeSource() {
            @Override
            public long getTime() {
                return now;
            }

            @Override
            public long getTimeFromNanos() {
                return now;
            }

            @Override
            public LocalDateTime getNow() {
                return LocalDateTime.ofInstant(Instant.ofEpochMilli(now), ZoneOffset.UTC);
            }
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            DefaultSessionSchedule schedule = schedules.get(Integer.parseInt(w[1]));
            boolean answer;
            if (w[0].equals("in")) {
                now = Long.parseLong(w[2]);
                answer = schedule.isSessionTime();
            } else {
                answer = schedule.isSameSession(at(Long.parseLong(w[2])), at(Long.parseLong(w[3])));
            }
            out.println(answer ? "1" : "0");
        }
        out.flush();
    }

    private static Calendar at(long millis) {
        return SystemTime.getUtcCalendar(millis);
    }
}
