// Answers cron questions with the real Quartz 2.3.2, for the differential tests.
//
// Reads one request a line on stdin:  start (epoch seconds) <TAB> zone <TAB> count <TAB> expression
// (the expression comes last so that the tabs it may contain stay part of it)
// and writes one answer a line on stdout:
//   OK <epoch seconds of up to `count` fire times, space separated>   (fewer when Quartz returns null)
//   REFUSED <Quartz's ParseException message>
//   CRASH <exception>   (Quartz accepted the text but failed while computing)
//   HANG                (Quartz accepted the text but getTimeAfter ran for more than a second;
//                        the helper then exits, since the looping thread cannot be stopped)
// Output is flushed whenever stdin has nothing buffered, so one process serves a whole test session.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.Date;
import java.util.TimeZone;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.quartz.CronExpression;

public final class QuartzOracle {
    private static final ExecutorService worker = newWorker();

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String answer = answerInTime(line.split("\t", 4));
            out.write(answer);
            out.newLine();
            if (answer.equals("HANG")) {
                out.flush();
                System.exit(3);
            }
            if (!in.ready()) {
                out.flush();
            }
        }
        out.flush();
        System.exit(0);
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "quartz");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Quartz loops forever on some nonsense it accepts: give up after a second. */
    private static String answerInTime(String[] request) throws Exception {
        Future<String> answer = worker.submit(() -> answer(request));
        try {
            return answer.get(1, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return "HANG";
        }
    }

    private static String answer(String[] request) {
        CronExpression cron;
        try {
            cron = new CronExpression(request[3]);
        } catch (ParseException e) {
            return "REFUSED " + oneLine(e.getMessage());
        } catch (RuntimeException e) {
            return "REFUSED " + oneLine(e.toString());
        }
        cron.setTimeZone(TimeZone.getTimeZone(request[1]));
        StringBuilder result = new StringBuilder("OK");
        try {
            Date current = new Date(Long.parseLong(request[0]) * 1000L);
            int count = Integer.parseInt(request[2]);
            for (int i = 0; i < count; i++) {
                current = cron.getTimeAfter(current);
                if (current == null) {
                    break;
                }
                result.append(' ').append(current.getTime() / 1000L);
            }
        } catch (RuntimeException e) {
            return "CRASH " + oneLine(e.toString());
        }
        return result.toString();
    }

    private static String oneLine(String text) {
        return String.valueOf(text).replace('\n', ' ').replace('\r', ' ');
    }
}
