// Answers cron questions with the real Quartz 2.3.2, for the differential tests.
//
// Reads one request a line on stdin:  start (epoch seconds) <TAB> zone <TAB> count <TAB> expression
// (the expression comes last so that the tabs it may contain stay part of it)
// and writes one answer a line on stdout:
//   OK <epoch seconds of up to `count` fire times, space separated>   (fewer when Quartz returns null)
//   REFUSED <Quartz's ParseException message>
//   CRASH <exception>   (Quartz accepted the text but failed while computing)
//   HANG                (Quartz accepted the text but getTimeAfter used more than a second of CPU time,
//                        measured on its own thread so a busy machine cannot turn a slow answer into a
//                        HANG; the helper then exits, since the looping thread cannot be stopped)
// Output is flushed whenever stdin has nothing buffered, so one process serves a whole test session.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
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
    private static final long CPU_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private static volatile Thread quartzThread;
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
            quartzThread = thread;
            return thread;
        });
    }

    /**
     * Quartz loops forever on some nonsense it accepts: give up once the answer has cost a second of
     * the quartz thread's CPU time. CPU time, not wall time: on a loaded machine a normal answer can
     * wait longer than a second for a core, and must not be mistaken for a loop.
     */
    private static String answerInTime(String[] request) throws Exception {
        long spentBefore = cpuTime();
        Future<String> answer = worker.submit(() -> answer(request));
        while (true) {
            try {
                return answer.get(50, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (cpuTime() - spentBefore > CPU_LIMIT_NANOS) {
                    return "HANG";
                }
            }
        }
    }

    private static long cpuTime() {
        Thread thread = quartzThread;
        return thread == null ? 0 : threads.getThreadCpuTime(thread.getId());
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
